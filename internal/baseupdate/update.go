// Package baseupdate moves the pinned base image of harden.yaml (and of the
// Dockerfile kept beside it) to the digest its tag points to now.
package baseupdate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/registry"
)

// Options are the inputs of Update.
type Options struct {
	ConfigPath string // harden.yaml
	// Tag is the tag to follow; "" keeps the tag written in base:.
	Tag string
	// Dockerfile to keep in step; "" means the Dockerfile beside
	// harden.yaml, which may be absent.
	Dockerfile string
	DryRun     bool
	Registry   *registry.Client
}

// Result is what Update found and did.
type Result struct {
	Repository string     `json:"repository"` // as written in base:
	Tag        string     `json:"tag"`
	OldDigest  string     `json:"oldDigest"`
	NewDigest  string     `json:"newDigest"`
	UpToDate   bool       `json:"upToDate"`
	DryRun     bool       `json:"dryRun,omitempty"`
	Platforms  []Platform `json:"platforms"`
	// Files are the files rewritten (with DryRun: that would be).
	Files    []FileChange `json:"files,omitempty"`
	Warnings []string     `json:"warnings,omitempty"`
}

// Platform compares one configured platform's manifest before and after.
type Platform struct {
	Platform   string    `json:"platform"`
	OldDigest  string    `json:"oldDigest"`
	NewDigest  string    `json:"newDigest"`
	OldCreated time.Time `json:"oldCreated"`
	NewCreated time.Time `json:"newCreated"`
}

// FileChange lists the rewritten lines of one file.
type FileChange struct {
	Path  string              `json:"path"`
	Lines []config.LineChange `json:"lines"`
}

// Update resolves the base's tag and, when it points to a new digest that
// still has every configured platform, rewrites base: in harden.yaml and
// the matching FROM lines of the Dockerfile. Nothing is written when the
// digest is unchanged, on DryRun, or on any error.
func Update(ctx context.Context, o Options) (*Result, error) {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return nil, errs.Input(err)
	}
	spelled, oldTag, oldDigest, err := splitBase(cfg.Base)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%s: base %q: %w", cfg.Path, cfg.Base, err))
	}
	tag := oldTag
	if o.Tag != "" {
		tag = o.Tag
	}
	if tag == "" {
		return nil, errs.Input(fmt.Errorf("%s: base %q has no tag to follow; pass --tag (e.g. --tag 3.12-slim-bookworm)", cfg.Path, cfg.Base))
	}
	tagRef, err := name.NewTag(spelled + ":" + tag)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("tag %q: %w", tag, err))
	}
	repo := tagRef.Context()
	res := &Result{Repository: spelled, Tag: tag, OldDigest: oldDigest, DryRun: o.DryRun}

	res.NewDigest, err = o.Registry.Digest(ctx, tagRef)
	if err != nil {
		return nil, err
	}
	newPlat, err := o.Registry.Platforms(ctx, repo.Digest(res.NewDigest))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", tagRef, err)
	}
	oldPlat := newPlat
	if res.NewDigest != oldDigest {
		if oldPlat, err = o.Registry.Platforms(ctx, repo.Digest(oldDigest)); err != nil {
			return nil, fmt.Errorf("read the current base %s: %w", cfg.Base, err)
		}
	}
	for _, want := range cfg.Platforms {
		n, ok := registry.FindPlatform(newPlat, want)
		if !ok {
			return nil, errs.Input(fmt.Errorf("%s now points to %s, which has no %s manifest (it has %s); not updating: follow another tag with --tag, or remove %s from platforms: in %s",
				tagRef, res.NewDigest, want, names(newPlat), want, cfg.Path))
		}
		ncf, err := n.Config(repo)
		if err != nil {
			return nil, err
		}
		p := Platform{Platform: want, NewDigest: n.Digest, NewCreated: ncf.Created.UTC()}
		if old, ok := registry.FindPlatform(oldPlat, want); ok {
			ocf, err := old.Config(repo)
			if err != nil {
				return nil, err
			}
			p.OldDigest, p.OldCreated = old.Digest, ocf.Created.UTC()
		}
		res.Platforms = append(res.Platforms, p)
	}
	if res.NewDigest == oldDigest {
		res.UpToDate = true
		return res, nil
	}

	// Compute every edit before writing anything.
	var writes []edit
	newBase := spelled + ":" + tag + "@" + res.NewDigest
	hy, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", cfg.Path, err)
	}
	hyNew, change, err := config.SetScalar(hy, "base", newBase)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%s: %w", cfg.Path, err))
	}
	writes = append(writes, edit{path: cfg.Path, data: hyNew, lines: []config.LineChange{change}})

	df := o.Dockerfile
	if df == "" {
		df = filepath.Join(cfg.Dir, "Dockerfile")
	}
	db, err := os.ReadFile(df)
	switch {
	case errors.Is(err, fs.ErrNotExist) && o.Dockerfile == "":
	case err != nil:
		return nil, errs.Input(fmt.Errorf("read Dockerfile: %w", err))
	default:
		dbNew, lines, matched := rewriteFrom(db, repo, tag, res.NewDigest)
		switch {
		case matched == 0:
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s has no FROM line for %s; update it by hand if it should follow the base", df, spelled))
		case len(lines) > 0:
			// The Dockerfile goes first: harden.yaml, the source of
			// truth, is only moved once everything else is.
			writes = append([]edit{{path: df, data: dbNew, lines: lines}}, writes...)
		}
	}
	for _, w := range writes {
		if !o.DryRun {
			if err := fsutil.ReplaceFile(w.path, w.data); err != nil {
				return nil, fmt.Errorf("%w (files already updated: %s)", err, written(res.Files))
			}
		}
		res.Files = append(res.Files, FileChange{Path: w.path, Lines: w.lines})
	}
	return res, nil
}

type edit struct {
	path  string
	data  []byte
	lines []config.LineChange
}

func written(files []FileChange) string {
	if len(files) == 0 {
		return "none"
	}
	var s []string
	for _, f := range files {
		s = append(s, f.Path)
	}
	return strings.Join(s, ", ")
}

// splitBase splits "repo[:tag]@sha256:…" into the repository as written,
// the tag ("" if none) and the digest.
func splitBase(base string) (repo, tag, digest string, err error) {
	d, err := name.NewDigest(base)
	if err != nil {
		return "", "", "", fmt.Errorf("%w; pin it as repo:tag@sha256:<digest>", err)
	}
	before, _, _ := strings.Cut(base, "@")
	repo = stripTagDigest(before)
	if len(repo) < len(before) {
		tag = before[len(repo)+1:]
	}
	return repo, tag, d.DigestStr(), nil
}

func names(ps []registry.PlatformImage) string {
	if len(ps) == 0 {
		return "none"
	}
	var s []string
	for _, p := range ps {
		s = append(s, p.Platform.String())
	}
	return strings.Join(s, ", ")
}
