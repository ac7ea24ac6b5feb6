package build

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/layer"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/pyenv"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/wheel"
)

// Target is one platform of the base image as the wheels see it: the
// interpreter and C library (which wheel tags fit) and the PEP 508 marker
// environment (which requirements apply).
type Target struct {
	Platform string // "linux/amd64"
	Python   pyenv.Env
	Wheel    wheel.Target
	Env      lock.Env
}

// Base is the pinned base as the build reads it, once: each configured
// platform's manifest, config and the files the build needs from its
// layers (Python detection, installed distributions' RECORDs).
type Base struct {
	ref       name.Digest // as pulled
	platforms []basePlatform
}

// InspectBase pulls the configured base by digest and reads each
// platform. Build and Targets take the result, so the layers are read once.
func InspectBase(ctx context.Context, rc *registry.Client, c *config.Config) (*Base, error) {
	ref, err := c.BaseRef()
	if err != nil {
		return nil, errs.Input(err)
	}
	return inspect(ctx, rc, ref, c.Platforms)
}

func inspect(ctx context.Context, rc *registry.Client, ref name.Digest, platforms []string) (*Base, error) {
	bases, err := basePlatforms(ctx, rc, ref, platforms)
	if err != nil {
		return nil, err
	}
	for i := range bases {
		b := &bases[i]
		if b.config, err = b.img.ConfigFile(); err != nil {
			return nil, fmt.Errorf("%s: read base config: %w", b.platform, err)
		}
		if b.fs, err = layer.Flatten(b.img, keepForBuild); err != nil {
			return nil, fmt.Errorf("%s: read base layers: %w", b.platform, err)
		}
	}
	return &Base{ref: ref, platforms: bases}, nil
}

// Targets describes each platform of the base for wheel selection.
func (b *Base) Targets(c *config.Config) ([]Target, error) {
	out := make([]Target, 0, len(b.platforms))
	for _, p := range b.platforms {
		t, err := targetOf(c, p.platform, p.fs, p.config)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.platform, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Targets inspects the configured base, pulled by digest, for every
// configured platform.
func Targets(ctx context.Context, rc *registry.Client, c *config.Config) ([]Target, error) {
	b, err := InspectBase(ctx, rc, c)
	if err != nil {
		return nil, err
	}
	return b.Targets(c)
}

func targetOf(c *config.Config, platform string, fs *layer.Tree, cf *v1.ConfigFile) (Target, error) {
	env, err := pyenv.Detect(fs, cf.Config.Env, cf.Architecture, cf.Variant, pyenv.Overrides{
		Interpreter: c.Python.Interpreter, SitePackages: c.Python.SitePackages, Scripts: c.Python.Scripts})
	if err != nil {
		return Target{}, errs.Input(fmt.Errorf("inspect base: %w", err))
	}
	menv, err := lock.TargetEnv(env.Version, platform)
	if err != nil {
		return Target{}, errs.Input(err)
	}
	return Target{
		Platform: platform,
		Python:   *env,
		Wheel:    wheel.Target{PythonMajor: env.Major, PythonMinor: env.Minor, Implementation: "cp", Arch: env.Arch, GlibcMajor: env.GlibcMajor, GlibcMinor: env.GlibcMinor},
		Env:      menv,
	}, nil
}

// keepForBuild is what a build reads from the base: Python detection plus
// the RECORDs of installed distributions (to shadow them).
func keepForBuild(p string) bool {
	return pyenv.KeepData(p) || strings.HasSuffix(p, ".dist-info/RECORD")
}

// TargetsFor is Targets, unless pythonFullVersion and glibc describe the
// base instead (offline): CPython pythonFullVersion with that glibc
// ("2.36") on every configured platform.
func TargetsFor(ctx context.Context, rc *registry.Client, c *config.Config, pythonFullVersion, glibc string) ([]Target, error) {
	if pythonFullVersion == "" && glibc == "" {
		return Targets(ctx, rc, c)
	}
	if pythonFullVersion == "" || glibc == "" {
		return nil, errs.Input(errors.New("--python-version and --glibc go together: pass both (e.g. --python-version 3.11.2 --glibc 2.36) or neither to inspect the base image"))
	}
	return OfflineTargets(c.Platforms, pythonFullVersion, glibc)
}

// OfflineTargets describes CPython pythonFullVersion with glibc on each
// platform, without inspecting the base.
func OfflineTargets(platforms []string, pythonFullVersion, glibc string) ([]Target, error) {
	gmaj, gmin, ok := majorMinor(glibc)
	if !ok {
		return nil, errs.Input(fmt.Errorf("--glibc %q: want MAJOR.MINOR such as 2.36", glibc))
	}
	pmaj, pmin, ok := majorMinor(pythonFullVersion)
	if !ok {
		return nil, errs.Input(fmt.Errorf("--python-version %q: want a CPython version such as 3.11.2", pythonFullVersion))
	}
	var out []Target
	for _, pl := range platforms {
		env, err := lock.TargetEnv(pythonFullVersion, pl)
		if err != nil {
			return nil, errs.Input(err)
		}
		out = append(out, Target{
			Platform: pl,
			Wheel: wheel.Target{PythonMajor: pmaj, PythonMinor: pmin, Implementation: "cp",
				Arch: env["platform_machine"], GlibcMajor: gmaj, GlibcMinor: gmin},
			Env: env,
		})
	}
	return out, nil
}

// majorMinor reads the first two numbers of "3.11.2" or "2.36".
func majorMinor(s string) (int, int, bool) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(parts[0])
	b, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return 0, 0, false
	}
	return a, b, true
}
