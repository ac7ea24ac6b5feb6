package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/build"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/wording"
)

func newBuildCmd(g *globals) *cobra.Command {
	var p build.Params
	var lockFile, upstreamRoot string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the image natively (no Docker) into an OCI layout",
		Long: `Build pulls the base by digest, installs the locked wheels natively and writes
an OCI image layout plus build.json to --out. When the lock records the
wheels' PyPI attestations (harden lock), they are verified again, from the
index or the provenance cache, with the recorded publishers pinned. The build is reproducible: all
times come from SOURCE_DATE_EPOCH, or the commit time when that is unset.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr, err := g.load(cmd.Context(), lockFile)
			if err != nil {
				return err
			}
			p.Project, p.Registry, p.Log = pr, g.registry(), g.logf
			p.SourceDateEpoch = os.Getenv("SOURCE_DATE_EPOCH")
			p.Upstream = upstream.ForLock(pr.Lock, upstreamRoot, false)
			rec, err := build.Run(cmd.Context(), p)
			if err != nil {
				return err
			}
			return g.emit(rec, func(w io.Writer) {
				for _, pl := range rec.Platforms {
					fmt.Fprintf(w, "%-14s %s (%s, python %s)\n", pl.Platform, pl.Digest, wording.Count(len(pl.Wheels), "wheel"), pl.Python.Version)
				}
				fmt.Fprintf(w, "index          %s\n", rec.Digest)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Out, "out", dist.Default, "output directory (OCI layout in oci/, record in build.json)")
	f.StringVar(&p.WheelDir, "wheel-dir", "", "take wheels from this directory instead of an index (offline)")
	f.StringVar(&p.IndexURL, "index-url", "", "PEP 503/691 simple index (default: the lock's, the config's, then PyPI)")
	f.StringVar(&p.CacheDir, "cache-dir", "", "wheel cache, content-addressed by sha256 (default: user cache dir)")
	f.StringVar(&lockFile, "lock", "", "lock file (default: lock: in harden.yaml)")
	f.StringVar(&upstreamRoot, "upstream-trusted-root", "", "Sigstore trusted root JSON the PyPI (PEP 740) attestations the lock records are verified against (default: public good via TUF)")
	return cmd
}
