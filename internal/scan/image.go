package scan

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/sbom"
)

// PlatformReport is the scan of one platform image.
type PlatformReport struct {
	Platform string  `json:"platform"`
	Digest   string  `json:"digest"` // the platform manifest
	Report   *Report `json:"report"`
}

// ParseImage checks that ref names an image by digest.
func ParseImage(ref string) (name.Digest, error) {
	d, err := name.NewDigest(ref)
	if err != nil {
		return d, errs.Input(fmt.Errorf("%q: name the image by digest (REPO@sha256:…): %w", ref, err))
	}
	return d, nil
}

// SBOMs catalogues every platform of the index ref names (or only
// platforms) with syft, as harden sbom does.
func SBOMs(ctx context.Context, reg *registry.Client, ref string, platforms []string) ([]*sbom.SBOM, error) {
	d, err := ParseImage(ref)
	if err != nil {
		return nil, err
	}
	idx, err := reg.Index(ctx, d)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", d, err)
	}
	var out []*sbom.SBOM
	seen := map[string]bool{}
	for _, m := range im.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue // attestation manifests of other tools
		}
		p := m.Platform.OS + "/" + m.Platform.Architecture
		if m.Platform.Variant != "" {
			p += "/" + m.Platform.Variant
		}
		if len(platforms) > 0 && !slices.Contains(platforms, p) {
			continue
		}
		seen[p] = true
		img, err := idx.Image(m.Digest)
		if err != nil {
			return nil, fmt.Errorf("read %s image of %s: %w", p, d, err)
		}
		s, err := sbom.Generate(ctx, img, p, m.Digest.String(), sbom.Options{Epoch: time.Now(), Name: d.Context().String()})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	for _, p := range platforms {
		if !seen[p] {
			return nil, errs.Input(fmt.Errorf("%s has no %s image; drop --platform or name one the index holds", d, p))
		}
	}
	if len(out) == 0 {
		return nil, errs.Input(fmt.Errorf("%s holds no platform image to scan", d))
	}
	return out, nil
}

// ScanSBOMs scans each platform's SBOM.
func ScanSBOMs(ctx context.Context, db *DB, sboms []*sbom.SBOM, o Options) ([]PlatformReport, error) {
	var out []PlatformReport
	for _, s := range sboms {
		doc, err := s.SyftJSON()
		if err != nil {
			return nil, err
		}
		r, err := Scan(ctx, db, doc, o)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", s.Platform, err)
		}
		out = append(out, PlatformReport{Platform: s.Platform, Digest: s.Digest, Report: r})
	}
	return out, nil
}
