package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/harden-dev/harden/internal/admission"
	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildinfo"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/release"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/vsa"
	"github.com/harden-dev/harden/internal/wording"
)

// wireCLI finishes the command tree once every command is added: the
// completion command, the hidden docs command, "did you mean" for the
// subcommands of every group, and value completion for every flag with a
// fixed set of values.
func wireCLI(root *cobra.Command, g *globals) {
	root.AddCommand(newDocsCmd(g))
	root.InitDefaultCompletionCmd()
	walk(root, func(c *cobra.Command) {
		// Help names pages of the docs for the harden that prints it.
		c.Long = linkDocs(c.Long, g.build)
		c.Flags().VisitAll(func(f *pflag.Flag) { f.Usage = linkDocs(f.Usage, g.build) })
		// Deprecation notices go to stderr: cobra prints them to the
		// command's out writer, stdout here, in the way of results.
		c.Flags().SetOutput(g.stderr)
		c.PersistentFlags().SetOutput(g.stderr)
		if msg := c.Deprecated; msg != "" {
			c.Deprecated, c.Hidden = "", true
			pre := c.PreRunE
			c.PreRunE = func(cmd *cobra.Command, a []string) error {
				fmt.Fprintf(g.stderr, "Command %q is deprecated, %s\n", cmd.Name(), msg)
				if pre != nil {
					return pre(cmd, a)
				}
				return nil
			}
		}
		if c.HasSubCommands() {
			c.SuggestionsMinimumDistance = 2
			if !c.Runnable() {
				// A group: "harden base resolv" is an unknown command
				// (exit 2) with suggestions, not the group's help.
				c.Args = cobra.ArbitraryArgs
				c.RunE = func(cmd *cobra.Command, a []string) error {
					if len(a) > 0 {
						return unknownCommand(cmd, a[0])
					}
					return cmd.Help()
				}
			}
		}
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if _, done := c.GetFlagCompletionFunc(f.Name); done || flagValues(c, f.Name) == nil {
					return
				}
				_ = c.RegisterFlagCompletionFunc(f.Name, func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return flagValues(cmd, f.Name), cobra.ShellCompDirectiveNoFileComp
				})
			})
		}
	})
}

// walk calls fn for c and every command below it.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, s := range c.Commands() {
		walk(s, fn)
	}
}

// flagValues are the values a flag with a fixed set accepts, from the
// lists the validation uses; nil for a free-form flag. cmd is the command
// the flag is given to.
func flagValues(cmd *cobra.Command, flag string) []string {
	switch flag {
	case "output":
		return outputFormats(cmd)
	case "runtime":
		return runtimes()
	case "engine":
		return slices.Clone(admission.Engines)
	case "progress":
		return release.ProgressModes()
	case "fail-on":
		return scan.FailOnLevels()
	case "max-severity":
		return scan.MaxSeverityLevels()
	case "storage":
		return attach.Storages()
	case "type":
		if cmd.Name() == "attest" {
			return attest.Types()
		}
	case "require-level":
		return slices.Clone(vsa.Levels)
	case "format":
		switch cmd.Name() {
		case "sbom":
			var out []string
			for _, f := range sbom.Formats() {
				out = append(out, string(f))
			}
			return out
		case "generate":
			return admission.Formats()
		}
	}
	return nil
}

// outputFormats are the values of -o/--output for cmd: text and json,
// and sarif for the commands that write it (annotation "sarif").
func outputFormats(cmd *cobra.Command) []string {
	if cmd.Annotations["sarif"] != "" {
		return []string{"text", "json", "sarif"}
	}
	return []string{"text", "json"}
}

// runtimes are the smoke-test runtimes smoke.CheckRuntime accepts, in
// the order its message lists them (TestRuntimeValues keeps them equal).
func runtimes() []string { return []string{"runc", "docker", "podman", "chroot"} }

// unknownCommand refuses a word that names no subcommand of cmd, with
// the subcommands it most likely meant.
func unknownCommand(cmd *cobra.Command, word string) error {
	return errs.Input(fmt.Errorf("unknown command %q for %q%s\n\nsee %s --help",
		word, cmd.CommandPath(), wording.DidYouMean(cmd.SuggestionsFor(word)), cmd.CommandPath()))
}

// flagError is every command's flag error (exit 2); an unknown flag
// comes with the command's flags nearest to it.
func flagError(cmd *cobra.Command, err error) error {
	var long string
	if n, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
		long = n
	}
	if long == "" {
		return errs.Input(fmt.Errorf("%w; see %s --help", err, cmd.CommandPath()))
	}
	var names []string
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
		fs.VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !slices.Contains(names, "--"+f.Name) {
				names = append(names, "--"+f.Name)
			}
		})
	}
	return errs.Input(fmt.Errorf("%w%s\n\nsee %s --help", err, wording.DidYouMean(wording.Closest("--"+long, names)), cmd.CommandPath()))
}

// rerun writes cmd's command line again with image as its argument and
// every flag the user gave, in the order given, for a hint that says
// what to run instead.
func rerun(cmd *cobra.Command, image string) string {
	words := []string{cmd.CommandPath(), shellQuote(image)}
	fs := cmd.Flags()
	sorted := fs.SortFlags
	fs.SortFlags = false // Visit then goes in the order the flags were set
	fs.Visit(func(f *pflag.Flag) {
		switch v := f.Value.(type) {
		case pflag.SliceValue:
			for _, s := range v.GetSlice() {
				words = append(words, "--"+f.Name, shellQuote(s))
			}
		default:
			if f.Value.Type() == "bool" {
				if f.Value.String() == "true" {
					words = append(words, "--"+f.Name)
				} else {
					words = append(words, "--"+f.Name+"=false")
				}
				return
			}
			words = append(words, "--"+f.Name, shellQuote(f.Value.String()))
		}
	})
	fs.SortFlags = sorted
	return strings.Join(words, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-…", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// digestArg reads the IMAGE@sha256:<digest> argument of cmd; a tag gets
// the way to its digest instead of a parse error.
func digestArg(cmd *cobra.Command, ref string) (name.Digest, error) {
	d, err := name.NewDigest(ref)
	if err == nil {
		return d, nil
	}
	if _, terr := name.NewTag(ref); terr == nil {
		return d, errs.Input(fmt.Errorf("%s is not named by digest; %s needs IMAGE@sha256:<digest>, which a tag cannot move: get the digest with harden base resolve %s (or crane digest %s)",
			ref, cmd.CommandPath(), ref, ref))
	}
	return d, errs.Input(fmt.Errorf("%q is not an image reference; %s needs IMAGE@sha256:<64 hex digits>", ref, cmd.CommandPath()))
}

// docPage is a page of harden's docs named in help text.
var docPage = regexp.MustCompile(`(?m)(^|[\s(])(docs/[a-z0-9-]+\.md)\b`)

// linkDocs turns each docs/<page>.md in help text into its URL at the ref
// this harden was built from, so an installed binary's help leads to pages
// that describe it.
func linkDocs(text string, build buildinfo.Info) string {
	return docPage.ReplaceAllStringFunc(text, func(m string) string {
		sub := docPage.FindStringSubmatch(m)
		return sub[1] + build.DocURL(sub[2])
	})
}
