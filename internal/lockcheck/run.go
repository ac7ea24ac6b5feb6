package lockcheck

import (
	"context"
	"net/http"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
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
	src, cache, err := wheels.ForProject(pr, p.WheelDir, p.IndexURL, p.CacheDir, p.HTTPClient)
	if err != nil {
		return nil, err
	}
	return Check(ctx, Options{Lock: pr.Lock, Input: pr.Input, Targets: targets, Source: src, Cache: cache})
}
