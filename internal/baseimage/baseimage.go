// Package baseimage reads the pinned base image as the build and the lock
// tools see it: each configured platform's manifest and config, the
// files Python detection needs, and the wheel target (interpreter, C
// library, PEP 508 environment) each platform offers.
package baseimage

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

// Base is the pinned base as read once: each configured platform's
// manifest, config and the files a build needs from its layers.
type Base struct {
	Ref       name.Digest // as pulled
	Platforms []Platform
}

// Platform is one manifest of the base.
type Platform struct {
	Name   string // "linux/amd64", as configured
	Desc   v1.Descriptor
	Image  v1.Image
	Config *v1.ConfigFile
	// FS holds every entry's metadata and the contents of what Keep
	// selects.
	FS *layer.Tree
}

// InspectConfig pulls the configured base by digest and reads each
// configured platform.
func InspectConfig(ctx context.Context, rc *registry.Client, c *config.Config) (*Base, error) {
	ref, err := c.BaseRef()
	if err != nil {
		return nil, errs.Input(err)
	}
	return Inspect(ctx, rc, ref, c.Platforms)
}

// Inspect reads the platforms of the base at ref (which may be a mirror
// of the configured one).
func Inspect(ctx context.Context, rc *registry.Client, ref name.Digest, platforms []string) (*Base, error) {
	ps, err := pick(ctx, rc, ref, platforms)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		p := &ps[i]
		if p.Config, err = p.Image.ConfigFile(); err != nil {
			return nil, fmt.Errorf("%s: read base config: %w", p.Name, err)
		}
		if p.FS, err = layer.Flatten(p.Image, Keep); err != nil {
			return nil, fmt.Errorf("%s: read base layers: %w", p.Name, err)
		}
	}
	return &Base{Ref: ref, Platforms: ps}, nil
}

// Keep selects the base files whose contents a build reads: what Python
// detection needs and the RECORDs of installed distributions (to shadow
// them). Everything else is kept as metadata only.
func Keep(p string) bool {
	return pyenv.KeepData(p) || strings.HasSuffix(p, ".dist-info/RECORD")
}

// pick pulls the base by digest and picks the manifest of every
// requested platform.
func pick(ctx context.Context, rc *registry.Client, ref name.Digest, platforms []string) ([]Platform, error) {
	idx, err := rc.Index(ctx, ref)
	if registry.IsNotIndex(err) {
		img, err := rc.Image(ctx, ref)
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read base config: %w", err)
		}
		p := cf.Platform()
		if p == nil || len(platforms) != 1 || p.String() != platforms[0] {
			return nil, errs.Input(fmt.Errorf("base %s is a single-platform image (%v) but platforms are %v; pin the base's multi-platform index digest (harden base resolve) or set platforms to match", ref, p, platforms))
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		return []Platform{{Name: platforms[0], Image: img, Desc: v1.Descriptor{Digest: d, MediaType: m.MediaType, Platform: p}}}, nil
	}
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read base index: %w", err)
	}
	var out []Platform
	for _, want := range platforms {
		wp, err := v1.ParsePlatform(want)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("platform %q: %w", want, err))
		}
		var found *v1.Descriptor
		var have []string
		for i, m := range im.Manifests {
			if m.Platform == nil {
				continue
			}
			have = append(have, m.Platform.String())
			if registry.PlatformMatches(*m.Platform, *wp) {
				found = &im.Manifests[i]
				break
			}
		}
		if found == nil {
			return nil, errs.Input(fmt.Errorf("base %s has no %s manifest (it has %s); remove %s from platforms or choose another base", ref, want, strings.Join(have, ", "), want))
		}
		img, err := idx.Image(found.Digest)
		if err != nil {
			return nil, fmt.Errorf("read base %s manifest: %w", want, err)
		}
		out = append(out, Platform{Name: want, Desc: *found, Image: img})
	}
	return out, nil
}

// Targets describes each platform of the base for wheel selection.
func (b *Base) Targets(c *config.Config) ([]Target, error) {
	out := make([]Target, 0, len(b.Platforms))
	for _, p := range b.Platforms {
		t, err := p.Target(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Target describes this platform for wheel selection and installation.
func (p *Platform) Target(c *config.Config) (Target, error) {
	env, err := pyenv.Detect(p.FS, p.Config.Config.Env, p.Config.Architecture, p.Config.Variant, pyenv.Overrides{
		Interpreter: c.Python.Interpreter, SitePackages: c.Python.SitePackages, Scripts: c.Python.Scripts})
	if err != nil {
		return Target{}, errs.Input(fmt.Errorf("inspect base: %w", err))
	}
	return TargetOf(p.Name, *env)
}

// TargetOf describes platform for wheel selection from its Python
// environment as detected in the base (a build record keeps it).
func TargetOf(platform string, env pyenv.Env) (Target, error) {
	menv, err := lock.TargetEnv(env.Version, platform)
	if err != nil {
		return Target{}, errs.Input(err)
	}
	return Target{
		Platform: platform,
		Python:   env,
		Wheel:    wheel.Target{PythonMajor: env.Major, PythonMinor: env.Minor, Implementation: "cp", Arch: env.Arch, GlibcMajor: env.GlibcMajor, GlibcMinor: env.GlibcMinor},
		Env:      menv,
	}, nil
}

// Targets inspects the configured base, pulled by digest, for every
// configured platform.
func Targets(ctx context.Context, rc *registry.Client, c *config.Config) ([]Target, error) {
	b, err := InspectConfig(ctx, rc, c)
	if err != nil {
		return nil, err
	}
	return b.Targets(c)
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
