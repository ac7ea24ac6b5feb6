package lockcheck

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/wheels"
)

// Params are the command-level inputs of harden lock --check.
type Params struct {
	Project  *project.Project
	WheelDir string // offline wheel source; wins over IndexURL
	IndexURL string
	CacheDir string
	// Targets, when set, are the platforms to check (the caller inspected
	// the base); else PythonVersion and Glibc describe the base, or it is
	// inspected.
	Targets              []baseimage.Target
	PythonVersion, Glibc string
	Registry             *registry.Client
	HTTPClient           *http.Client
	// Upstream, when set, also checks the locked files' PEP 740
	// attestations against the upstream: policy and the publishers the
	// lock records; Offline needs WheelDir, CacheOnly needs nothing (no
	// index is asked for provenance).
	Upstream *upstream.Settings
}

// Run checks the project's lock for every platform of its base, reading
// the wheels from the same source a build would.
func Run(ctx context.Context, p Params) (*Report, error) {
	pr := p.Project
	targets := p.Targets
	if targets == nil {
		var err error
		if targets, err = baseimage.TargetsFor(ctx, p.Registry, pr.Config, p.PythonVersion, p.Glibc); err != nil {
			return nil, err
		}
	}
	if p.Upstream != nil && p.Upstream.Offline && p.WheelDir == "" {
		return nil, errs.Input(errors.New("--offline checks against a wheel directory: pass --wheel-dir DIR (an index needs the network)"))
	}
	src, cache, err := wheels.ForProject(pr, p.WheelDir, p.IndexURL, p.CacheDir, p.HTTPClient)
	if err != nil {
		return nil, err
	}
	ms := &memoSource{Source: src, files: map[string][]wheels.File{}}
	rep, err := Check(ctx, Options{Lock: pr.Lock, Input: pr.Input, Targets: targets, Source: ms, Cache: cache})
	if err != nil || p.Upstream == nil {
		return rep, err
	}
	indexURL := wheels.IndexURLFor(pr, p.WheelDir, p.IndexURL)
	if rep.Upstream, err = checkUpstream(ctx, pr, ms, *p.Upstream, indexURL, p.CacheDir, p.HTTPClient); err != nil {
		return nil, err
	}
	return rep, nil
}

// checkUpstream verifies the attestations of the locked files, with the
// publishers the lock records pinned.
func checkUpstream(ctx context.Context, pr *project.Project, ms *memoSource, s upstream.Settings, indexURL, cacheDir string, hc *http.Client) (*upstream.Report, error) {
	pins, err := lockedFiles(ctx, pr.Lock, ms)
	if err != nil {
		return nil, err
	}
	return s.Check(ctx, pins, pr.Lock, pr.Config, indexURL, cacheDir, hc)
}

// lockedFiles names the file behind each hash of each pin: from the wheel
// source's listing (with what it says of provenance, so an index page is
// not read twice), else from the lock's provenance record. A hash
// neither names is left out.
func lockedFiles(ctx context.Context, lf *lock.File, src *memoSource) ([]upstream.Pin, error) {
	var pins []upstream.Pin
	for _, r := range lf.Requirements {
		files, err := src.Files(ctx, r.Key)
		if err != nil {
			return nil, err
		}
		byHash := map[string]upstream.File{}
		for _, f := range files {
			if f.SHA256 != "" && strings.HasSuffix(f.Filename, ".whl") {
				byHash[f.SHA256] = upstream.File{Filename: f.Filename, SHA256: f.SHA256, Listing: &upstream.Listing{Provenance: f.Provenance}}
			}
		}
		pin := upstream.Pin{Key: r.Key, Name: r.Name, Version: r.Version}
		for _, h := range r.Hashes {
			f, ok := byHash[h]
			if !ok {
				if rec, ok := r.ProvenanceOf(h); ok {
					f = upstream.File{Filename: rec.Filename, SHA256: h}
				}
			}
			if f.Filename != "" {
				pin.Files = append(pin.Files, f)
			}
		}
		sort.Slice(pin.Files, func(i, j int) bool { return pin.Files[i].Filename < pin.Files[j].Filename })
		pins = append(pins, pin)
	}
	return pins, nil
}
