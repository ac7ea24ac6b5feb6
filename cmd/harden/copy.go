package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/relocate"
	"github.com/harden-dev/harden/internal/wording"
)

func newCopyCmd(g *globals) *cobra.Command {
	var layoutDir string
	cmd := &cobra.Command{
		Use:   "copy IMAGE@sha256:DIGEST DST-REPO | --from-layout DIR DST-REPO",
		Short: "Copy an image with all its signatures and attestations to another repository",
		Long: `Copy relocates an image (index, platform manifests and blobs) together with its
OCI referrers and cosign .sig/.att tags, keeping every digest. Referrers are
written through the destination's referrers API, or listed in its sha256-<hex>
fallback tag; entries others already listed there, and in .sig/.att tags, are
kept. With --from-layout it imports a layout written by harden export. Running
it again finishes an interrupted copy; after a complete one it writes nothing.
Exit 0 when copied and read back, 1 when source content does not match its
digest, 2 for bad input, 3 when a registry cannot be reached.`,
		Args: args(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if (layoutDir == "") != (len(a) == 2) {
				return errs.Input(fmt.Errorf("name the source and the destination: harden copy IMAGE@sha256:… DST-REPO, or harden copy --from-layout DIR DST-REPO"))
			}
			dst, err := relocate.ParseDestination(a[len(a)-1])
			if err != nil {
				return err
			}
			rc := g.registry()
			var res *relocate.Result
			if layoutDir != "" {
				res, err = relocate.Import(cmd.Context(), rc, layoutDir, dst)
			} else {
				src, serr := relocate.ResolveSource(cmd.Context(), rc, a[0], a[1])
				if serr != nil {
					return serr
				}
				res, err = relocate.Copy(cmd.Context(), rc, src, dst)
			}
			if res == nil {
				return err
			}
			if eerr := g.emit(res, func(w io.Writer) { renderCopy(w, res) }); eerr != nil {
				return eerr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&layoutDir, "from-layout", "", "import from an OCI layout written by harden export")
	return cmd
}

func renderCopy(w io.Writer, r *relocate.Result) {
	from := r.Source
	if r.Layout != "" {
		from = fmt.Sprintf("%s (layout %s)", r.Source, r.Layout)
	}
	fmt.Fprintf(w, "%s -> %s\n", from, r.Image)
	line := func(what string, c relocate.Count) {
		fmt.Fprintf(w, "  %-12s %d copied, %d already present\n", what+":", c.Copied, c.Present)
	}
	line("manifests", r.Manifests)
	line("blobs", r.Blobs)
	line("referrers", r.Referrers)
	line("legacy tags", r.LegacyTags)
	storage := "the referrers API"
	if r.ReferrersStorage != "api" {
		storage = "sha256-<hex> fallback tags"
	}
	fmt.Fprintf(w, "  referrers are listed through %s at the destination\n", storage)
	for _, o := range r.Objects {
		switch o.Status {
		case relocate.StatusMerged:
			fmt.Fprintf(w, "  merged tag %s: added %s to those already there\n", o.Ref, wording.Count(o.Added, "entry", "entries"))
		case relocate.StatusUpdated:
			fmt.Fprintf(w, "  completed the descriptors of fallback tag %s\n", o.Ref)
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  skipped %s: %s\n", s.Object, s.Reason)
	}
	if r.ReadBack {
		fmt.Fprintln(w, "  read back: every digest at the destination equals the source's")
	}
	if !r.Written() {
		fmt.Fprintln(w, "  nothing new: everything was already present")
	}
}
