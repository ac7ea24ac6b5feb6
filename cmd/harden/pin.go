package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/pin"
	"github.com/harden-dev/harden/internal/wording"
)

func newLintCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lint FILE...",
		Short: "Report container images not pinned by digest in Kubernetes YAML and Dockerfiles",
		Long: `Lint reads Kubernetes manifests, Helm-rendered YAML and Dockerfiles and reports
every image reference without an @sha256 digest, with file, line and the fix.
It exits 1 when it finds one.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			fs, err := pin.Lint(a)
			if err != nil {
				return err
			}
			if fs == nil {
				fs = []pin.Finding{}
			}
			if err := g.emit(fs, func(w io.Writer) {
				for _, f := range fs {
					fmt.Fprintln(w, f)
				}
			}); err != nil {
				return err
			}
			if len(fs) > 0 {
				return errs.Check(fmt.Errorf("%s not pinned by digest; run harden pin %s", wording.Count(len(fs), "image reference"), strings.Join(a, " ")))
			}
			return nil
		},
	}
}

func newPinCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pin FILE...",
		Short: "Rewrite image references in Kubernetes YAML and Dockerfiles to repo@sha256, resolving tags",
		Long: `Pin resolves each image tag through its registry and rewrites the reference to
repo@sha256:<digest>, changing only the reference: formatting and comments stay.
Every file is resolved before any is written.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			res, err := pin.PinFiles(cmd.Context(), a, g.registry().Digest)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				for _, f := range res {
					for _, c := range f.Changes {
						fmt.Fprintf(w, "%s:%d: %s -> %s\n", f.File, c.Line, c.Old, c.New)
					}
				}
			})
		},
	}
}
