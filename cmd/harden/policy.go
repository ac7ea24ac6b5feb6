package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/admission"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/fsutil"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Admission policies for clusters that run the image", Args: args(cobra.NoArgs)}
	var engine, out string
	var repos, exempt []string
	gen := &cobra.Command{
		Use:   "generate --engine gatekeeper [--out FILE]",
		Short: "Write an admission policy for the image in harden.yaml",
		Long: `Generate writes an engine's native admission policy for the repository of
harden.yaml (or --repository, repeatable): for Gatekeeper, a ConstraintTemplate
and a Constraint that deny Pods and workloads whose images from those
repositories are not pinned by digest. Gatekeeper cannot verify signatures
itself; docs/admission.md says what that leaves open.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := config.Load(g.config)
			if err != nil {
				return err
			}
			p := admission.ParamsFor(c)
			if len(repos) > 0 {
				p.Repositories = repos
			}
			p.ExemptImages = exempt
			b, err := admission.Generate(engine, p)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := g.stdout.Write(b)
				return err
			}
			if err := fsutil.WriteFileAtomic(out, b, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			g.logf("wrote %s", out)
			return nil
		},
	}
	f := gen.Flags()
	f.StringVar(&engine, "engine", "", "admission engine: gatekeeper")
	f.StringVar(&out, "out", "", "write to this file (default: stdout)")
	f.StringSliceVar(&repos, "repository", nil, "govern these repositories instead of repository: in harden.yaml")
	f.StringSliceVar(&exempt, "exempt-image", nil, "let this image through (exact, or a prefix ending in *)")
	cmd.AddCommand(gen)
	return cmd
}
