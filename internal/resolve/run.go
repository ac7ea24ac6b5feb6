package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/wheels"
)

// Params are the command-level inputs of harden lock.
type Params struct {
	ConfigPath string // harden.yaml
	OutputFile string // "" = lock: in harden.yaml
	WheelDir   string // offline wheel source; wins over IndexURL
	IndexURL   string // "" = requirements.in's, the lock's, the config's, then PyPI
	CacheDir   string
	// PythonVersion and Glibc, when set, describe the base instead of
	// inspecting it (offline): CPython PythonVersion with glibc Glibc on
	// every configured platform.
	PythonVersion   string
	Glibc           string
	Upgrade         bool
	UpgradePackages []string
	DryRun          bool // resolve and report, write nothing
	Registry        *registry.Client
	HTTPClient      *http.Client
	Log             func(format string, args ...any)
}

// Report is what harden lock did.
type Report struct {
	Path      string   `json:"path"`
	Written   bool     `json:"written"`
	Platforms []string `json:"platforms"`
	Packages  int      `json:"packages"`
	Changes   []Change `json:"changes"`
	Warnings  []string `json:"warnings,omitempty"`
	Lock      string   `json:"lock,omitempty"` // the lock text, on a dry run
}

// Run resolves the project's requirements.in and writes the lock
// atomically (unless DryRun). It needs no existing lock.
func Run(ctx context.Context, p Params) (*Report, error) {
	cfg, err := config.Load(p.ConfigPath)
	if err != nil {
		return nil, errs.Input(err)
	}
	inPath := cfg.Resolve(cfg.Requirements)
	in, err := lock.ParseInputFile(inPath)
	if os.IsNotExist(err) {
		return nil, errs.Input(fmt.Errorf("requirements file %s does not exist; create it with the top-level requirements (e.g. pgcli==4.3.0) or fix requirements: in %s", inPath, cfg.Path))
	}
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%w (requirements: in %s)", err, cfg.Path))
	}
	out := p.OutputFile
	if out == "" {
		out = cfg.Resolve(cfg.Lock)
	}
	// The pins to keep come from the lock being replaced, or from the
	// configured lock when writing elsewhere for the first time.
	prevPath := out
	if _, err := os.Stat(out); os.IsNotExist(err) {
		prevPath = cfg.Resolve(cfg.Lock)
	}
	prev, err := lock.ParseFile(prevPath)
	switch {
	case os.IsNotExist(err):
		prev = nil
	case err != nil:
		if !p.Upgrade {
			logf(p.Log, "ignoring the pins of %s, which does not parse: %v", prevPath, err)
		}
		prev = nil
	}
	targets, err := targetsFor(ctx, p, cfg)
	if err != nil {
		return nil, err
	}
	known := &lock.File{}
	if prev != nil {
		known = prev
	}
	indexURL := p.IndexURL
	if indexURL == "" {
		indexURL = in.IndexURL
	}
	src, cache, err := wheels.ForProject(&project.Project{Config: cfg, Lock: known, Input: in}, p.WheelDir, indexURL, p.CacheDir, p.HTTPClient)
	if err != nil {
		return nil, err
	}
	res, err := Resolve(ctx, Options{
		Input: in, Source: src, Cache: cache, Targets: targets, Previous: prev,
		Upgrade: p.UpgradePackages, UpgradeAll: p.Upgrade, Log: p.Log,
	})
	if err != nil {
		return nil, err
	}
	data := Render(res)
	rep := &Report{Path: out, Platforms: res.Platforms, Packages: len(res.Packages), Changes: Diff(prev, res), Warnings: res.Warnings}
	if p.DryRun {
		rep.Lock = string(data)
		return rep, nil
	}
	if err := fsutil.WriteFileAtomic(out, data, 0o644); err != nil {
		return nil, err
	}
	rep.Written = true
	return rep, nil
}

func logf(log func(string, ...any), format string, args ...any) {
	if log != nil {
		log(format, args...)
	}
}

func targetsFor(ctx context.Context, p Params, cfg *config.Config) ([]baseimage.Target, error) {
	if p.PythonVersion == "" && p.Glibc == "" && p.Registry == nil {
		return nil, errors.New("resolve: a registry client is needed to inspect the base")
	}
	return baseimage.TargetsFor(ctx, p.Registry, cfg, p.PythonVersion, p.Glibc)
}
