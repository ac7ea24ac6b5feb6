package build

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/gitinfo"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/wheels"
)

// Params are the command-level inputs of harden build.
type Params struct {
	Project         *project.Project
	Out             string // output dir: oci/ and build.json
	WheelDir        string // offline wheel source; wins over IndexURL
	IndexURL        string // simple index; "" = config, then PyPI
	CacheDir        string
	SourceDateEpoch string // the SOURCE_DATE_EPOCH variable, "" if unset
	Registry        *registry.Client
	HTTPClient      *http.Client
	Log             func(format string, args ...any)
	// Base, when set, is the base already read by baseimage.Inspect.
	Base *baseimage.Base
	// Upstream, when set, verifies the PEP 740 attestations of the
	// installed wheels before the output is written, with the publishers
	// the lock records pinned (as harden lock --check does); a violation
	// fails the build.
	Upstream *upstream.Settings
}

// Run builds the project's image and writes it to p.Out.
func Run(ctx context.Context, p Params) (*buildrecord.Record, error) {
	epoch, err := gitinfo.Epoch(p.SourceDateEpoch, p.Project.Git)
	if err != nil {
		return nil, errs.Input(err)
	}
	src, cache, err := wheels.ForProject(p.Project, p.WheelDir, p.IndexURL, p.CacheDir, p.HTTPClient)
	if err != nil {
		return nil, err
	}
	st, err := newStage(p.Out)
	if err != nil {
		return nil, err
	}
	defer st.discard()
	start := time.Now()
	idx, rec, err := Build(ctx, Options{
		Config: p.Project.Config, Lock: p.Project.Lock, Input: p.Project.Input, BlobDir: st.blobDir(),
		Source: src, Cache: cache, Registry: p.Registry, Epoch: epoch, Git: p.Project.Git, Log: p.Log, Base: p.Base,
	})
	if err != nil {
		return nil, err
	}
	indexURL := wheels.IndexURLFor(p.Project, p.WheelDir, p.IndexURL)
	if indexURL != "" {
		for _, pl := range rec.Platforms {
			for _, w := range pl.Wheels {
				if w.Upstream != nil {
					w.Upstream.Index = indexURL
				}
			}
		}
	}
	if p.Upstream != nil {
		if err := checkUpstream(ctx, p, rec, indexURL); err != nil {
			return nil, err
		}
	}
	rec.StartedOn, rec.FinishedOn = start.UTC().Round(time.Millisecond), time.Now().UTC().Round(time.Millisecond)
	if err := st.commit(idx, rec); err != nil {
		return nil, fmt.Errorf("write build output: %w", err)
	}
	if p.Log != nil {
		p.Log("wrote %s in %s", p.Out, time.Since(start).Round(time.Millisecond))
	}
	return rec, nil
}

// checkUpstream verifies the attestations of the wheels rec installed,
// asking indexURL, the index they came from ("" for a wheel directory:
// the cache alone), and logs the coverage.
func checkUpstream(ctx context.Context, p Params, rec *buildrecord.Record, indexURL string) error {
	pr := p.Project
	s := *p.Upstream
	// Wheels from a directory: what the cache lacks is not checked, a
	// warning unless upstream.require names the package.
	s.CacheOnly = s.CacheOnly || indexURL == ""
	rep, err := s.Check(ctx, installedPins(pr.Lock, rec), pr.Lock, pr.Config, indexURL, p.CacheDir, p.HTTPClient)
	if err != nil {
		return err
	}
	if p.Log != nil {
		rep.Log(p.Log)
	}
	if err := rep.Err(); err != nil {
		return fmt.Errorf("nothing written to %s: %w", p.Out, err)
	}
	return nil
}

// installedPins are the pins of lf with the files rec installed on any
// platform, in lock order.
func installedPins(lf *lock.File, rec *buildrecord.Record) []upstream.Pin {
	files := map[string]map[string]string{} // key -> sha256 -> filename
	for _, pl := range rec.Platforms {
		for _, w := range pl.Wheels {
			if files[w.Name] == nil {
				files[w.Name] = map[string]string{}
			}
			files[w.Name][w.SHA256] = w.Filename
		}
	}
	var pins []upstream.Pin
	for _, r := range lf.Requirements {
		fs := files[r.Key]
		if len(fs) == 0 {
			continue
		}
		pin := upstream.Pin{Key: r.Key, Name: r.Name, Version: r.Version}
		for sum, fn := range fs {
			pin.Files = append(pin.Files, upstream.File{Filename: fn, SHA256: sum})
		}
		slices.SortFunc(pin.Files, func(a, b upstream.File) int { return strings.Compare(a.Filename, b.Filename) })
		pins = append(pins, pin)
	}
	return pins
}
