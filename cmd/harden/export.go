package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/export"
	"github.com/harden-dev/harden/internal/wording"
)

func newExportCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "export IMAGE@sha256:DIGEST --out DIR",
		Short: "Write an image and all its signatures and attestations to an OCI layout",
		Long: `Export copies the image (index and platform manifests), its OCI referrers and
cosign .sig/.att tags into a new OCI layout directory, for offline verification:
harden verify --layout DIR --offline --trusted-root FILE.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if dir == "" {
				return errs.Input(errors.New("--out DIR is required"))
			}
			ref, err := digestArg(cmd, a[0])
			if err != nil {
				return err
			}
			res, err := export.Export(cmd.Context(), g.registry(), ref, dir)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "%s -> %s (%s, %s)\n", res.Image, res.Layout, wording.Count(res.Referrers, "referrer"), wording.Count(res.Tags, "cosign tag"))
			})
		},
	}
	cmd.Flags().StringVar(&dir, "out", "", "new directory for the OCI layout")
	return cmd
}
