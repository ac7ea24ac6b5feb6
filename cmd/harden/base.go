package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/baseupdate"
)

func newBaseCmd(g *globals) *cobra.Command {
	base := &cobra.Command{Use: "base", Short: "Inspect and pin base images"}
	resolve := &cobra.Command{
		Use:   "resolve REF",
		Short: "Print the digest of a tag and of every platform manifest in it",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			res, err := g.registry().Resolve(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				fmt.Fprintln(w, res.Pinned)
				for _, p := range res.Platforms {
					fmt.Fprintf(w, "  %-16s %s\n", p.Platform, p.Digest)
				}
			})
		},
	}
	base.AddCommand(resolve, newBaseUpdateCmd(g))
	return base
}

func newBaseUpdateCmd(g *globals) *cobra.Command {
	o := baseupdate.Options{}
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Move base: in harden.yaml (and the Dockerfile's FROM) to the digest its tag points to now",
		Long: `Update resolves the tag written in base: (or --tag, to move to another tag
such as a new patch release) and, when it points to a new digest, rewrites
base: in harden.yaml and every FROM line of the Dockerfile beside it that
names the same repository. Only those lines change; comments and layout
stay. The new digest must have every platform in platforms:, or nothing is
written. The creation date of each platform's image, old and new, shows how
far the base moved. --dry-run shows the edits without writing them.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.configErr != nil {
				return g.configErr
			}
			o.ConfigPath, o.Registry = g.config, g.registry()
			res, err := baseupdate.Update(cmd.Context(), o)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				g.logf("warning: %s", w)
			}
			return g.emit(res, func(w io.Writer) { writeBaseUpdate(w, res) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Tag, "tag", "", "tag to follow instead of the one in base: (e.g. 3.12.9-slim-bookworm)")
	f.StringVar(&o.Dockerfile, "dockerfile", "", "Dockerfile to keep in step (default: Dockerfile beside harden.yaml, if any)")
	f.BoolVar(&o.DryRun, "dry-run", false, "show what would change and write nothing")
	return cmd
}

func writeBaseUpdate(w io.Writer, res *baseupdate.Result) {
	date := func(t time.Time) string {
		if t.IsZero() {
			return "unknown"
		}
		return t.Format(time.RFC3339)
	}
	if res.UpToDate {
		fmt.Fprintf(w, "%s:%s is up to date: %s\n", res.Repository, res.Tag, res.NewDigest)
		for _, p := range res.Platforms {
			fmt.Fprintf(w, "  %-16s created %s\n", p.Platform, date(p.NewCreated))
		}
		return
	}
	fmt.Fprintf(w, "%s:%s\n  %s\n→ %s\n", res.Repository, res.Tag, res.OldDigest, res.NewDigest)
	for _, p := range res.Platforms {
		fmt.Fprintf(w, "  %-16s created %s → %s\n", p.Platform, date(p.OldCreated), date(p.NewCreated))
	}
	verb := "updated"
	if res.DryRun {
		verb = "would change (dry run, nothing written)"
	}
	for _, f := range res.Files {
		fmt.Fprintf(w, "%s %s\n", verb, f.Path)
		for _, l := range f.Lines {
			fmt.Fprintf(w, "  @@ line %d\n  - %s\n  + %s\n", l.Line, l.Old, l.New)
		}
	}
}
