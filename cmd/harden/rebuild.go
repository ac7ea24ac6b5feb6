package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/rebuild"
)

func newRebuildCmd(g *globals) *cobra.Command {
	var vf verifyFlags
	var rf rebuildFlags
	cmd := &cobra.Command{
		Use:   "rebuild IMAGE@sha256:DIGEST | --layout DIR",
		Short: "Rebuild an image from its signed provenance and compare digests",
		Long: `Rebuild verifies the image's SLSA provenance (same identity flags as verify),
takes from it every input of the build (the base by digest, each wheel by
sha256, the build settings and SOURCE_DATE_EPOCH), builds again in a clean
temporary directory, and compares the rebuilt index and platform digests with
the published ones.

Exit 0 when they match. Exit 1 when they do not: the report names the first
layer that differs and the files in it (size, mode, mtime, content hash), or
the config fields. Exit 3 when an input can no longer be obtained (a wheel gone
from its index, a base deleted); the message names each one. Wheels come from
their recorded URLs unless --wheel-dir or --index-url name a copy.`,
		Args: args(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			o, err := vf.options(g, a)
			if err != nil {
				return err
			}
			o.Rerun = func(image string) string { return rerun(cmd, image) }
			ro := rf.o
			ro.Verify, ro.Log = o, g.logf
			res, err := rebuild.Run(cmd.Context(), ro)
			if res == nil {
				return err
			}
			if eerr := g.emit(res, func(w io.Writer) { rebuild.Render(w, res) }); eerr != nil {
				return eerr
			}
			return err
		},
	}
	vf.add(cmd.Flags())
	rf.add(cmd.Flags())
	return cmd
}
