package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/publish"
)

func newPublishCmd(g *globals) *cobra.Command {
	var p publish.Params
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Push the built image to a registry by digest and write the release record",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p.Repository == "" {
				pr, err := g.load(cmd.Context(), "")
				if err != nil {
					return err
				}
				p.Repository = pr.Config.Repository
			}
			p.Registry = g.registry()
			rel, err := publish.Publish(cmd.Context(), p)
			if err != nil {
				return err
			}
			return g.emit(rel, func(w io.Writer) {
				for _, pl := range rel.Platforms {
					fmt.Fprintf(w, "%-14s %s\n", pl.Platform, pl.Image)
				}
				fmt.Fprintln(w, rel.Image)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Out, "out", dist.Default, "build output directory")
	f.StringVar(&p.Repository, "repo", "", "target repository (default: repository: in harden.yaml)")
	f.StringSliceVar(&p.Tags, "tag", nil, "also tag the index (a convenience; deploy by digest)")
	f.StringVar(&p.RecordPath, "record", "", "release record path (default: <out>/release.json)")
	return cmd
}
