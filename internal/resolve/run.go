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
	"github.com/harden-dev/harden/internal/upstream"
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
	// Upstream says how the locked files' PEP 740 attestations are found
	// and verified; Offline needs WheelDir.
	Upstream   upstream.Settings
	Registry   *registry.Client
	HTTPClient *http.Client
	Log        func(format string, args ...any)
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
	// Upstream is the provenance coverage of the pins.
	Upstream *upstream.Report `json:"upstream,omitempty"`
}

// Run resolves the project's requirements.in and writes the lock
// atomically (unless DryRun). It needs no existing lock.
func Run(ctx context.Context, p Params) (*Report, error) {
	if p.Upstream.Offline && p.WheelDir == "" {
		return nil, errs.Input(errors.New("--offline resolves against a wheel directory: pass --wheel-dir DIR (an index needs the network)"))
	}
	cfg, err := config.Load(p.ConfigPath)
	if err != nil {
		return nil, errs.Input(err)
	}
	inPath := cfg.Resolve(cfg.Requirements)
	in, err := lock.ParseInputFile(inPath)
	if os.IsNotExist(err) {
		return nil, errs.Input(fmt.Errorf("requirements file %s does not exist; create it with the top-level requirements (one per line, e.g. <project>==<version>) or fix requirements: in %s", inPath, cfg.Path))
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
	provIndex := ""
	if p.WheelDir == "" {
		provIndex = firstOf(indexURL, known.IndexURL, cfg.Index.URL, wheels.DefaultIndex)
	}
	up, err := checkUpstream(ctx, res, prev, cfg, p, provIndex)
	if err != nil {
		return nil, err
	}
	data := Render(res)
	rep := &Report{Path: out, Platforms: res.Platforms, Packages: len(res.Packages), Changes: Diff(prev, res), Warnings: res.Warnings, Upstream: up}
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

// checkUpstream verifies the upstream provenance of every locked file,
// applies the upstream: policy with the previous lock's publishers pinned
// (except for the packages named by --upgrade-package), and stores the
// records in res. A violation is an errs.Check error: nothing is written.
func checkUpstream(ctx context.Context, res *Result, prev *lock.File, cfg *config.Config, p Params, indexURL string) (*upstream.Report, error) {
	src, err := p.Upstream.Source(indexURL, p.CacheDir, p.HTTPClient)
	if err != nil {
		return nil, err
	}
	pins := make([]upstream.Pin, len(res.Packages))
	for i, pkg := range res.Packages {
		pins[i] = upstream.Pin{Key: pkg.Name, Name: pkg.Name, Version: pkg.Version}
		for _, f := range pkg.Files {
			// What the page said of provenance, so it is not read again.
			pins[i].Files = append(pins[i].Files, upstream.File{Filename: f.Filename, SHA256: f.SHA256, Listing: &upstream.Listing{Provenance: f.Provenance}})
		}
	}
	rep, err := upstream.Check(ctx, pins, upstream.Options{Source: src, Trust: p.Upstream.Trust(), Policy: upstream.PolicyOf(cfg),
		Previous: prev, Release: p.UpgradePackages})
	if err != nil {
		return nil, err
	}
	if err := rep.Err(); err != nil {
		return nil, err
	}
	for i := range res.Packages {
		res.Packages[i].Provenance = rep.Records[i]
	}
	return rep, nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
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
