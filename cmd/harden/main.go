// Command harden builds, tests, publishes, signs and verifies hardened
// container images. This package only wires flags to internal packages.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/google/go-containerregistry/pkg/logs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/harden-dev/harden/internal/buildinfo"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
)

// stampedVersion may be set at link time (-ldflags "-X
// main.stampedVersion=v1.2.3"); otherwise the version comes from the
// binary's build information (go install …@v1.2.3, or the commit).
var stampedVersion string

// globals are the persistent flags every command shares.
type globals struct {
	build  buildinfo.Info // which harden this is
	config string
	output string
	debug  bool
	stdout io.Writer
	stderr io.Writer
	// flags are the running command's, set before it runs, so that
	// shared option code can tell a flag given as 0 from one left out.
	flags *pflag.FlagSet
	// configErr says why no harden.yaml was found when --config was not
	// given; config is then DefaultPath, which does not exist.
	configErr error
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(os.Stdout, os.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harden: "+err.Error())
	}
	stop()
	os.Exit(errs.ExitCode(err))
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr, build: buildinfo.Read(stampedVersion)}
	root := &cobra.Command{
		Use:           "harden",
		Short:         "Build, test, publish, sign and verify hardened container images",
		Long:          "Build, test, publish, sign and verify hardened container images.\n\n" + envHelp(),
		Version:       g.build.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.flags = cmd.Flags()
			if err := applyEnv(g.flags, os.Getenv); err != nil {
				return err
			}
			if !g.flags.Changed("config") {
				if g.config, g.configErr = config.Discover(os.Getenv, "."); g.configErr != nil {
					g.config = config.DefaultPath // commands that run without one see it missing
				}
			}
			if !slices.Contains(outputFormats(cmd), g.output) {
				return errs.Input(fmt.Errorf("--output %q: use text or json (and sarif for scan)", g.output))
			}
			if g.debug {
				// go-containerregistry's request log; it redacts
				// Authorization headers and token responses.
				logs.Debug.SetOutput(g.stderr)
				logs.Warn.SetOutput(g.stderr)
			}
			return nil
		},
	}
	root.SetVersionTemplate(g.build.String() + "\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	// A runnable root, so that an unknown command is a usage error (exit 2)
	// rather than cobra's unclassified one.
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, a []string) error {
		if len(a) > 0 {
			return unknownCommand(cmd, a[0])
		}
		return cmd.Help()
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	root.PersistentFlags().StringVar(&g.config, "config", "", "image definition (default: $HARDEN_CONFIG, else ./harden.yaml, else ./image/harden.yaml)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "report format: text or json (scan: also sarif)")
	root.PersistentFlags().BoolVar(&g.debug, "debug", false, "log every registry request and response to stderr (credentials redacted)")
	root.AddCommand(newBuildCmd(g), newTestCmd(g), newPublishCmd(g), newBaseCmd(g),
		newSBOMCmd(g), newSignCmd(g), newAttestCmd(g), newKeygenCmd(g), newConformanceCmd(g), newVerifyCmd(g), newExportCmd(g), newCopyCmd(g), newReleaseCmd(g), newLintCmd(g), newPinCmd(g), newRebuildCmd(g), newPolicyCmd(g), newScanCmd(g), newVersionCmd(g), newBumpCmd(g), newLockCmd(g), newSignBlobCmd(g), newVerifyBlobCmd(g), newInitCmd(g))
	wireCLI(root, g) // after every AddCommand
	return root
}

// args wraps cobra's positional-argument checks so misuse exits 2.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			if len(a) > 0 && cmd.HasAvailableSubCommands() {
				return unknownCommand(cmd, a[0])
			}
			return errs.Input(fmt.Errorf("%w; see %s --help", err, cmd.CommandPath()))
		}
		return nil
	}
}

func (g *globals) load(ctx context.Context, lockOverride string) (*project.Project, error) {
	if g.configErr != nil {
		return nil, g.configErr
	}
	return project.Load(ctx, g.config, lockOverride)
}

func (g *globals) registry() *registry.Client {
	return registry.New(registry.WithUserAgent("harden/" + g.build.Version))
}

// logf writes progress to stderr so stdout stays clean for results.
func (g *globals) logf(format string, a ...any) {
	fmt.Fprintf(g.stderr, format+"\n", a...)
}

// emit renders v as JSON when --output json, else calls text.
func (g *globals) emit(v any, text func(w io.Writer)) error {
	if g.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(g.stdout)
	return nil
}

var errCheckFailed = errors.New("checks failed")
