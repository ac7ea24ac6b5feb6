package resolve

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheels"
)

// mask is a set of targets, bit i for Options.Targets[i].
type mask uint64

func (m mask) has(i int) bool { return m&(1<<uint(i)) != 0 }

// each calls f for every target in m, in target order.
func (m mask) each(f func(i int)) {
	for m != 0 {
		i := bits.TrailingZeros64(uint64(m))
		f(i)
		m &^= 1 << uint(i)
	}
}

// listing is what the source offers of one package.
type listing struct {
	key      string
	releases []*release // newest first
}

// release is one version of a project.
type release struct {
	version string // as the filenames spell it
	v       pep440.Version
	pre     bool
	wheels  []wheelFile // not yanked
	sdists  []string    // filenames, for messages
	yanked  []string    // yanked wheel filenames, for messages
	best    []int       // per target: index into wheels of the wheel pip would install, -1 for none
	cover   mask        // targets with a fitting wheel
	meta    *meta       // nil until chosen once
}

// wheelFile is a non-yanked wheel of a release.
type wheelFile struct {
	file wheels.File
	name wheel.Filename
	fits mask // targets whose tags and Python version it fits
}

// coverage is the set of targets the release can be installed on, as far
// as is known: the wheels' tags and the index's and the METADATA's
// Requires-Python.
func (rel *release) coverage() mask {
	if rel.meta != nil {
		return rel.cover & rel.meta.pythonOK
	}
	return rel.cover
}

// meta is the part of a release's METADATA the resolver uses.
type meta struct {
	deps           []*dep
	extras         map[string]bool // Provides-Extra, normalised
	pythonOK       mask            // targets the METADATA's Requires-Python admits
	requiresPython string
}

// dep is one Requires-Dist (or requirements.in) requirement.
type dep struct {
	key    string
	name   string
	extras []string // normalised
	spec   string   // e.g. "<0.5,>=0.3.0", "" for any version
	specs  *pep440.Specifiers
	pre    bool // the specifier names a pre-release
	marker *lock.Marker
	line   int              // requirements.in line, 0 for metadata
	evals  map[evalKey]bool // marker results, memoised
}

type evalKey struct {
	target int
	extra  string
}

// display is the requirement as the messages show it: "sqlparse<0.5,>=0.3.0".
func (d *dep) display() string {
	s := d.key
	if len(d.extras) > 0 {
		s += "[" + strings.Join(d.extras, ",") + "]"
	}
	return s + d.spec
}

// admits reports whether v satisfies the specifier. Pre-releases are
// judged by the caller.
func (d *dep) admits(v pep440.Version) bool {
	return d.specs == nil || d.specs.Check(v)
}

// newDep parses one requirement as requirements.in or Requires-Dist
// writes it: `name[extras] (specifiers) ; marker`.
func newDep(text string) (*dep, error) {
	in, err := lock.ParseInput(strings.NewReader(text), "Requires-Dist")
	if err != nil {
		// Keep the problem, not the place: the caller names the file.
		var pe *lock.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s; %s", pe.Problem, pe.Fix)
		}
		return nil, err
	}
	if len(in.Requirements) != 1 {
		return nil, fmt.Errorf("%q is not one requirement", text)
	}
	return depOf(in.Requirements[0])
}

func depOf(r lock.InputRequirement) (*dep, error) {
	d := &dep{key: r.Key, name: r.Name, extras: r.Extras, spec: r.Specifier, line: r.Line, evals: map[evalKey]bool{}}
	if r.Specifier != "" {
		ss, err := pep440.NewSpecifiers(r.Specifier)
		if err != nil {
			return nil, fmt.Errorf("%s: specifier %q: %w", r.Name, r.Specifier, err)
		}
		d.specs = &ss
		d.pre = namesPreRelease(r.Specifier)
	}
	if r.Marker != "" {
		m, err := lock.ParseMarker(r.Marker)
		if err != nil {
			return nil, err
		}
		d.marker = m
	}
	return d, nil
}

// namesPreRelease reports whether a clause of spec names a pre-release,
// which lets pre-releases of the package be chosen (PEP 440).
func namesPreRelease(spec string) bool {
	for _, c := range strings.Split(spec, ",") {
		c = strings.TrimLeft(strings.TrimSpace(c), "=!<>~")
		c = strings.TrimSuffix(c, ".*")
		if v, err := pep440.Parse(c); err == nil && v.IsPreRelease() {
			return true
		}
	}
	return false
}

// loadProject lists and classifies the files of key.
func (r *resolver) loadProject(ctx context.Context, key string) (*listing, error) {
	if p, ok := r.projects[key]; ok {
		return p, nil
	}
	files, err := r.src.Files(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("list %s in %s: %w", key, r.src, err)
	}
	p := &listing{key: key}
	byVersion := map[string]*release{}
	get := func(version string) *release {
		v, err := pep440.Parse(version)
		if err != nil {
			return nil // not a PEP 440 version: pip ignores such files too
		}
		canon := v.String()
		rel := byVersion[canon]
		if rel == nil {
			rel = &release{version: version, v: v, pre: v.IsPreRelease()}
			byVersion[canon] = rel
			p.releases = append(p.releases, rel)
		}
		return rel
	}
	for _, f := range files {
		if !strings.HasSuffix(f.Filename, ".whl") {
			if name, version, ok := wheel.SplitSdist(f.Filename); ok && wheel.NormalizeName(name) == key {
				if rel := get(version); rel != nil {
					rel.sdists = append(rel.sdists, f.Filename)
				}
			}
			continue
		}
		wf, err := wheel.ParseFilename(f.Filename)
		if err != nil || wheel.NormalizeName(wf.Name) != key {
			continue
		}
		rel := get(wf.Version)
		if rel == nil {
			continue
		}
		if f.Yanked {
			rel.yanked = append(rel.yanked, f.Filename)
			continue
		}
		rel.wheels = append(rel.wheels, wheelFile{file: f, name: wf, fits: r.fits(wf, f.RequiresPython)})
	}
	for _, rel := range p.releases {
		sort.Slice(rel.wheels, func(i, j int) bool { return rel.wheels[i].name.Raw < rel.wheels[j].name.Raw })
		rel.best = make([]int, len(r.targets))
		for ti, t := range r.targets {
			rel.best[ti] = -1
			var fit []wheel.Filename
			var idx []int
			for i, w := range rel.wheels {
				if w.fits.has(ti) {
					fit = append(fit, w.name)
					idx = append(idx, i)
				}
			}
			if best, ok := t.Wheel.Select(fit); ok {
				for k, f := range fit {
					if f.Raw == best.Raw {
						rel.best[ti] = idx[k]
						rel.cover |= 1 << uint(ti)
					}
				}
			}
		}
	}
	sort.SliceStable(p.releases, func(i, j int) bool { return p.releases[i].v.GreaterThan(p.releases[j].v) })
	r.projects[key] = p
	return p, nil
}

// fits is the set of targets a wheel's tags and Requires-Python admit.
func (r *resolver) fits(wf wheel.Filename, requiresPython string) mask {
	py := r.pythonOK(requiresPython)
	var m mask
	for ti := range r.targets {
		if !py.has(ti) {
			continue
		}
		for _, tag := range wf.Tags {
			if r.tags[ti][tag] {
				m |= 1 << uint(ti)
				break
			}
		}
	}
	return m
}

// pythonOK is the set of targets whose python_full_version satisfies a
// Requires-Python. Like pip, an invalid one is ignored.
func (r *resolver) pythonOK(requiresPython string) mask {
	all := r.all
	requiresPython = strings.TrimSpace(requiresPython)
	if requiresPython == "" {
		return all
	}
	if m, ok := r.pyCache[requiresPython]; ok {
		return m
	}
	m := all
	if ss, err := pep440.NewSpecifiers(requiresPython); err == nil {
		m = 0
		for ti, t := range r.targets {
			v, err := pep440.Parse(t.Env["python_full_version"])
			if err == nil && ss.Check(v) {
				m |= 1 << uint(ti)
			}
		}
	}
	r.pyCache[requiresPython] = m
	return m
}

// loadMeta reads the METADATA of rel, from the wheel pip would install on
// the first target in need that the release fits, and checks it names
// the project and version of the file.
func (r *resolver) loadMeta(ctx context.Context, key string, rel *release, need mask) error {
	if rel.meta != nil {
		return nil
	}
	wi := -1
	(need & rel.cover).each(func(ti int) {
		if wi < 0 {
			wi = rel.best[ti]
		}
	})
	if wi < 0 {
		rel.cover.each(func(ti int) {
			if wi < 0 {
				wi = rel.best[ti]
			}
		})
	}
	if wi < 0 {
		return fmt.Errorf("%s %s: no wheel to read METADATA from", key, rel.version)
	}
	f := rel.wheels[wi].file
	r.logf("reading metadata of %s", f.Filename)
	md, err := wheels.Metadata(ctx, r.src, r.cache, f)
	if err != nil {
		return fmt.Errorf("%s %s: %w", key, rel.version, err)
	}
	if wheel.NormalizeName(md.Name) != key || !lock.SameVersion(md.Version, rel.version) {
		return errs.Input(fmt.Errorf("%s from %s: its METADATA says %s %s, not %s %s; the index serves an inconsistent file", f.Filename, r.src, md.Name, md.Version, key, rel.version))
	}
	m := &meta{extras: map[string]bool{}, pythonOK: r.pythonOK(md.RequiresPython), requiresPython: md.RequiresPython}
	for _, x := range md.ProvidesExtra {
		m.extras[lock.NormalizeName(x)] = true
	}
	for _, text := range md.RequiresDist {
		d, err := newDep(text)
		if err != nil {
			return errs.Input(fmt.Errorf("%s: Requires-Dist %q: %w", f.Filename, text, err))
		}
		m.deps = append(m.deps, d)
	}
	rel.meta = m
	return nil
}
