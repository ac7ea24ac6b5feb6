package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
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
	base.AddCommand(resolve)
	return base
}
