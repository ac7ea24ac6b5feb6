package release

import (
	"cmp"
	"context"
	"errors"

	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/sbom"
)

// SBOMOptions are the inputs of harden sbom.
type SBOMOptions struct {
	Out     dist.Dir
	Dir     string        // where to write; "" = Out's SBOM directory
	Formats []sbom.Format // nil = all
	// The image name the documents are made for: Repository if set,
	// else the repository of Out's release record (the image as
	// published), else ConfigRepository.
	Repository, ConfigRepository string
	Version                      string // harden's, for the creator field
}

// WriteSBOMs is the sbom stage on its own (harden sbom): it catalogues
// the build in o.Out and writes the documents, returning the paths.
func WriteSBOMs(ctx context.Context, o SBOMOptions) ([]string, error) {
	b, err := openBuild(o.Out)
	if err != nil {
		return nil, err
	}
	repo := o.Repository
	if repo == "" {
		if rel, err := dist.ReadRelease(o.Out.Release()); err == nil && rel.Digest == b.Record.Digest {
			repo = rel.Repository
		}
	}
	if repo = cmp.Or(repo, o.ConfigRepository); repo == "" {
		return nil, errs.Input(errors.New("no image name for the SBOMs: pass --repo, publish first, or set repository: in harden.yaml"))
	}
	sboms, err := sbom.ForIndex(ctx, b.Index, b.Record, sbom.Options{ToolName: "harden", ToolVersion: o.Version, Name: repo})
	if err != nil {
		return nil, err
	}
	docs, err := sbom.Documents(sboms, o.Formats...)
	if err != nil {
		return nil, err
	}
	return dist.WriteSBOMs(cmp.Or(o.Dir, o.Out.SBOMs()), docs)
}
