package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/relversion"
)

// newVersionCmd prints which harden this is. Its old subcommand next,
// the image version, is harden bump now.
func newVersionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print harden's version, commit and Go version",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.emit(g.build, func(w io.Writer) { fmt.Fprintln(w, g.build) })
		},
	}
	next := newBumpCmd(g)
	next.Use, next.Hidden, next.Deprecated = "next", true, "use harden bump"
	cmd.AddCommand(next)
	return cmd
}

// newBumpCmd decides the image version of the next release.
func newBumpCmd(g *globals) *cobra.Command {
	var o relversion.Options
	var lockFile string
	next := &cobra.Command{
		Use:   "bump",
		Short: "Print the image version (<app-version>-r<N>) the next release should carry",
		Long: `Bump prints the image version for the next release, <app-version>-r<N>:
the version the lock pins for the app (name: in harden.yaml, or --app) and
a packaging revision. The revision restarts at r1 when the app version
changes, goes up by one when the base or the lock changed since the last
release, and stays when nothing did (nothing to release).

The last release is the highest <app-version>-r<N> tag in repository:, and
it is compared with the current base and lock through what harden's build
records in the image. With --offline the registry is not asked: the
revision after version: in harden.yaml is printed. --write stores the
result in version: in harden.yaml, changing only that line.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr, err := g.load(cmd.Context(), lockFile)
			if err != nil {
				return err
			}
			o.Config, o.Lock, o.Registry = pr.Config, pr.Lock, g.registry()
			res, err := relversion.Next(cmd.Context(), o)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				fmt.Fprintln(w, res.Next)
				g.logf("%s", res.Reason)
				if res.Written {
					g.logf("wrote version: %s to %s (was %s)", res.Next, pr.Config.Path, res.Current)
				}
			})
		},
	}
	f := next.Flags()
	f.StringVar(&o.App, "app", "", "project whose locked version the image carries (default: name: in harden.yaml)")
	f.BoolVar(&o.Offline, "offline", false, "do not ask the registry; bump version: in harden.yaml")
	f.BoolVar(&o.Write, "write", false, "rewrite version: in harden.yaml with the result")
	f.StringVar(&lockFile, "lock", "", "lock file (default: lock: in harden.yaml)")
	return next
}
