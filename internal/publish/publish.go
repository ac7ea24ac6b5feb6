// Package publish pushes a built image index to a registry by digest and
// writes the release record.
package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/registry"
)

// ReleaseSchema identifies the release record format (docs/release-record.md).
const ReleaseSchema = "https://github.com/harden-dev/harden/blob/main/docs/release-record.md#v1"

// Release is the record of one publication: what was pushed, where, and
// what it was built from.
type Release struct {
	SchemaVersion string                   `json:"schemaVersion"`
	Image         string                   `json:"image"` // repo@sha256:…, the only reference to deploy
	Repository    string                   `json:"repository"`
	Digest        string                   `json:"digest"`
	Version       string                   `json:"version"`
	Tags          []string                 `json:"tags,omitempty"`
	Platforms     []PlatformRelease        `json:"platforms"`
	Base          buildrecord.BaseRecord   `json:"base"`
	Lock          buildrecord.LockRecord   `json:"lock"`
	Source        buildrecord.SourceRecord `json:"source"`
	PublishedAt   time.Time                `json:"publishedAt"`
}

// PlatformRelease is one platform manifest as pushed.
type PlatformRelease struct {
	Platform   string `json:"platform"`
	Digest     string `json:"digest"`
	Image      string `json:"image"` // repo@sha256 of the platform manifest
	BaseDigest string `json:"baseDigest"`
}

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
func Publish(ctx context.Context, p Params) (*Release, error) {
	if p.Repository == "" {
		return nil, errs.Input(fmt.Errorf("no target repository: set repository: in harden.yaml or pass --repo"))
	}
	repo, err := name.NewRepository(p.Repository)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("repository %q: %w; use e.g. ghcr.io/org/pgcli (no tag or digest)", p.Repository, err))
	}
	idx, rec, err := buildrecord.ReadOutput(p.Out)
	if err != nil {
		return nil, err
	}
	ref, err := p.Registry.PushIndex(ctx, repo, idx, p.Tags...)
	if err != nil {
		return nil, err
	}
	if ref.DigestStr() != rec.Digest {
		return nil, fmt.Errorf("pushed %s but the build record says %s; rebuild", ref.DigestStr(), rec.Digest)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	rel := &Release{
		SchemaVersion: ReleaseSchema,
		Image:         ref.String(),
		Repository:    repo.String(),
		Digest:        rec.Digest,
		Version:       rec.Version,
		Tags:          p.Tags,
		Base:          rec.Base,
		Lock:          rec.Lock,
		Source:        rec.Source,
		PublishedAt:   now().UTC().Truncate(time.Second),
	}
	for _, pl := range rec.Platforms {
		rel.Platforms = append(rel.Platforms, PlatformRelease{
			Platform: pl.Platform, Digest: pl.Digest, Image: repo.Digest(pl.Digest).String(), BaseDigest: pl.BaseDigest})
	}
	path := p.RecordPath
	if path == "" {
		path = filepath.Join(p.Out, "release.json")
	}
	b, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("image pushed as %s, but writing the release record failed: %w", ref, err)
	}
	return rel, nil
}
