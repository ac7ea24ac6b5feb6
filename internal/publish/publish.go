// Package publish pushes a built image index to a registry by digest and
// writes the release record.
package publish

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry"
)

// Params are the inputs of harden publish.
type Params struct {
	Out        string // build output dir
	Repository string // target repo; "" = from the build's config
	Tags       []string
	RecordPath string // "" = <Out>/release.json
	Registry   *registry.Client
	Now        func() time.Time
}

// Publish pushes the index built in p.Out and writes the release record.
// The record is written only after the push is complete and read back.
func Publish(ctx context.Context, p Params) (*dist.Release, error) {
	if p.Repository == "" {
		return nil, errs.Input(fmt.Errorf("no target repository: set repository: in harden.yaml or pass --repo"))
	}
	repo, err := name.NewRepository(p.Repository)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("repository %q: %w; use e.g. ghcr.io/org/pgcli (no tag or digest)", p.Repository, err))
	}
	out := dist.Dir(p.Out)
	idx, rec, err := out.Build()
	if err != nil {
		return nil, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	rel, err := Index(ctx, p.Registry, repo, idx, rec, p.Tags, now())
	if err != nil {
		return nil, err
	}
	path := cmp.Or(p.RecordPath, out.Release())
	if err := dist.WriteRelease(path, rel); err != nil {
		return nil, fmt.Errorf("image pushed as %s, but: %w", rel.Image, err)
	}
	return rel, nil
}

// Index pushes the built index by digest (and tags) to repo and returns
// the publication record, made at now.
func Index(ctx context.Context, reg *registry.Client, repo name.Repository, idx v1.ImageIndex, rec *buildrecord.Record, tags []string, now time.Time) (*dist.Release, error) {
	ref, err := reg.PushIndex(ctx, repo, idx, tags...)
	if err != nil {
		return nil, err
	}
	if ref.DigestStr() != rec.Digest {
		return nil, fmt.Errorf("pushed %s but the build record says %s; rebuild", ref.DigestStr(), rec.Digest)
	}
	rel := &dist.Release{
		SchemaVersion: dist.ReleaseSchema,
		Image:         ref.String(),
		Repository:    repo.String(),
		Digest:        rec.Digest,
		Version:       rec.Version,
		Tags:          tags,
		Base:          rec.Base,
		Lock:          rec.Lock,
		Source:        rec.Source,
		PublishedAt:   now.UTC().Truncate(time.Second),
	}
	for _, pl := range rec.Platforms {
		rel.Platforms = append(rel.Platforms, dist.Platform{
			Platform: pl.Platform, Digest: pl.Digest, Image: repo.Digest(pl.Digest).String(), BaseDigest: pl.BaseDigest})
	}
	return rel, nil
}
