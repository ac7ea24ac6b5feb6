// Package lockcheck checks that a hash-locked requirements file is
// consistent with what its wheels declare. For every target platform:
// each top-level requirement is pinned at a version it accepts, each pin
// has a sha256 hash and a wheel for the target, each wheel's METADATA
// agrees with its pin and admits the target's Python, and every
// dependency a wheel declares is pinned at a version it accepts.
package lockcheck

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheels"
)

// Options are the inputs of Check.
type Options struct {
	Lock *lock.File
	// Input is requirements.in. Without it the top-level checks and the
	// unused-pin warnings are skipped.
	Input   *lock.Input
	Targets []baseimage.Target
	Source  wheels.Source
	Cache   *wheels.Cache
}

// Problem kinds.
const (
	KindUnpinned       = "unpinned"        // something requires a package the lock does not pin for the target
	KindVersion        = "version"         // a pin is outside the specifier of what requires it
	KindHash           = "hash"            // a pin has no sha256 hash
	KindWheel          = "wheel"           // no usable wheel of the pin for the target
	KindMetadata       = "metadata"        // the wheel's METADATA is unreadable or disagrees with the pin
	KindRequiresPython = "requires-python" // the wheel does not support the target's Python
	KindMarker         = "marker"          // a pin's marker cannot be evaluated, or two pins apply at once
	KindUnused         = "unused"          // warning: nothing requires the pin
)

// Problem is one finding, with what to do about it.
type Problem struct {
	Kind    string `json:"kind"`
	Package string `json:"package"` // normalised name of the package to change
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

func (p Problem) String() string { return p.Message + "; " + p.Fix }

// TargetReport is the outcome for one platform.
type TargetReport struct {
	Platform string    `json:"platform"`
	Python   string    `json:"python"` // python_full_version
	Pins     int       `json:"pins"`   // pins that apply to the platform
	Problems []Problem `json:"problems"`
}

// Report is the outcome of Check. Warnings do not fail the check.
type Report struct {
	Lock     string         `json:"lock"`
	Targets  []TargetReport `json:"targets"`
	Warnings []Problem      `json:"warnings"`
	// Upstream is the provenance check, when one was asked for: its
	// violations fail the check.
	Upstream *upstream.Report `json:"upstream,omitempty"`
}

// Inconsistent reports whether a target has a problem (the lock itself,
// not its upstream provenance, is at fault).
func (r *Report) Inconsistent() bool {
	for _, t := range r.Targets {
		if len(t.Problems) > 0 {
			return true
		}
	}
	return false
}

// Err returns nil when no target has a problem, else an errs.Check error
// listing every problem.
func (r *Report) Err() error {
	var lines []string
	for _, t := range r.Targets {
		for _, p := range t.Problems {
			lines = append(lines, t.Platform+": "+p.String())
		}
	}
	if r.Upstream != nil {
		for _, v := range r.Upstream.Violations {
			lines = append(lines, "upstream provenance: "+v.String())
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return errs.Check(fmt.Errorf("%s is inconsistent (%d problem(s)):\n  %s", r.Lock, len(lines), strings.Join(lines, "\n  ")))
}

// Check runs the checks for every target. Findings go into the Report; an
// error means the check could not run (bad options, an unreachable or
// unreadable wheel source).
func Check(ctx context.Context, o Options) (*Report, error) {
	switch {
	case o.Lock == nil:
		return nil, errors.New("lockcheck: no lock")
	case o.Source == nil || o.Cache == nil:
		return nil, errors.New("lockcheck: no wheel source or cache")
	case len(o.Targets) == 0:
		return nil, errs.Input(errors.New("no target platforms to check the lock against; set platforms: in harden.yaml"))
	}
	c := &checker{
		o:        o,
		src:      &memoSource{Source: o.Source, files: map[string][]wheels.File{}},
		wheels:   map[string]*wheelInfo{},
		required: map[string]bool{},
	}
	rep := &Report{Lock: o.Lock.Path, Targets: []TargetReport{}, Warnings: []Problem{}}
	for _, t := range o.Targets {
		tr, err := c.target(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("check %s for %s: %w", o.Lock.Path, t.Platform, err)
		}
		rep.Targets = append(rep.Targets, tr)
	}
	rep.Warnings = append(rep.Warnings, c.unused()...)
	return rep, nil
}

// checker holds what is shared between targets.
type checker struct {
	o        Options
	src      *memoSource
	wheels   map[string]*wheelInfo // by sha256 of the wheel
	required map[string]bool       // keys something requires on some target
	// incomplete is set when some pin's dependencies could not be read:
	// the unused-pin warnings would then be guesses.
	incomplete bool
}

// wheelInfo is what one wheel declares, read once for all targets.
type wheelInfo struct {
	filename string
	md       *wheel.Metadata
	deps     []lock.InputRequirement // parsed Requires-Dist
	bad      *Problem                // set when the METADATA is unusable
}

// targetCheck is the state of one target's check.
type targetCheck struct {
	t        baseimage.Target
	pins     map[string]*lock.Requirement // pins that apply, by key
	order    []*lock.Requirement          // the same, in lock order
	deps     map[string][]lock.InputRequirement
	problems []Problem
	seen     map[string]bool // problem dedup
}

func (tc *targetCheck) add(p Problem) {
	k := p.Kind + "\x00" + p.Package + "\x00" + p.Message
	if tc.seen[k] {
		return
	}
	tc.seen[k] = true
	tc.problems = append(tc.problems, p)
}

func (c *checker) target(ctx context.Context, t baseimage.Target) (TargetReport, error) {
	tc := &targetCheck{t: t, pins: map[string]*lock.Requirement{}, deps: map[string][]lock.InputRequirement{}, seen: map[string]bool{}}
	lf := c.o.Lock
	for i := range lf.Requirements {
		r := &lf.Requirements[i]
		ok, err := r.Applies(t.Env)
		if err != nil {
			tc.add(Problem{Kind: KindMarker, Package: r.Key,
				Message: fmt.Sprintf("%s line %d: %s: %v", base(lf.Path, "the lock"), r.Line, r.Name, err), Fix: "run harden lock"})
			c.incomplete = true
			continue
		}
		if !ok {
			continue
		}
		if prev, dup := tc.pins[r.Key]; dup {
			tc.add(Problem{Kind: KindMarker, Package: r.Key,
				Message: fmt.Sprintf("%s is pinned twice for %s (lines %d and %d): their markers overlap", r.Name, t.Platform, prev.Line, r.Line),
				Fix:     "run harden lock"})
			c.incomplete = true
			continue
		}
		tc.pins[r.Key] = r
		tc.order = append(tc.order, r)
	}
	for _, r := range tc.order {
		if err := ctx.Err(); err != nil {
			return TargetReport{}, err
		}
		if err := c.pin(ctx, tc, r); err != nil {
			return TargetReport{}, err
		}
	}
	c.dependencies(tc)
	sort.SliceStable(tc.problems, func(i, j int) bool {
		a, b := tc.problems[i], tc.problems[j]
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.Message < b.Message
	})
	return TargetReport{Platform: t.Platform, Python: t.Env["python_full_version"], Pins: len(tc.order), Problems: append([]Problem{}, tc.problems...)}, nil
}

// pin checks one pin's hashes, wheel and METADATA for the target and
// records the dependencies the wheel declares.
func (c *checker) pin(ctx context.Context, tc *targetCheck, r *lock.Requirement) error {
	t := tc.t
	fixUpgrade := "run harden lock --upgrade-package " + r.Key
	if len(r.Hashes) == 0 {
		msg := fmt.Sprintf("%s %s has no sha256 hash", r.Name, r.Version)
		if len(r.OtherHashes) > 0 {
			msg += " (only " + strings.Join(r.OtherHashes, ", ") + ")"
		}
		tc.add(Problem{Kind: KindHash, Package: r.Key, Message: msg, Fix: "run harden lock (it writes --hash=sha256:... for every file)"})
		c.incomplete = true
		return nil
	}
	if _, err := c.src.Files(ctx, r.Key); err != nil {
		return err // the source itself failed, not the pin
	}
	one := &lock.File{Path: c.o.Lock.Path, Requirements: []lock.Requirement{*r}}
	picks, err := wheels.Select(ctx, c.src, one, t.Wheel, t.Env, t.Platform)
	if err != nil {
		if errs.ExitCode(err) == errs.CodeUnreachable {
			return err
		}
		tc.add(Problem{Kind: KindWheel, Package: r.Key, Message: err.Error(), Fix: fixUpgrade})
		c.incomplete = true
		return nil
	}
	if len(picks) != 1 {
		return fmt.Errorf("select a wheel of %s==%s: got %d", r.Name, r.Version, len(picks))
	}
	wi, err := c.wheel(ctx, r, picks[0].File)
	if err != nil {
		return err
	}
	if wi.bad != nil {
		tc.add(*wi.bad)
		c.incomplete = true
		return nil
	}
	md := wi.md
	if lock.NormalizeName(md.Name) != r.Key || !lock.SameVersion(md.Version, r.Version) {
		tc.add(Problem{Kind: KindMetadata, Package: r.Key,
			Message: fmt.Sprintf("%s %s: wheel %s declares Name %q, Version %q in its METADATA", r.Name, r.Version, wi.filename, md.Name, md.Version),
			Fix:     "do not install a mislabelled wheel: publish a correct one, then " + fixUpgrade})
		c.incomplete = true
		return nil
	}
	if md.RequiresPython != "" {
		py := t.Env["python_full_version"]
		ok, err := admits(md.RequiresPython, py)
		switch {
		case err != nil:
			tc.add(Problem{Kind: KindMetadata, Package: r.Key,
				Message: fmt.Sprintf("%s %s: wheel %s has an unparseable Requires-Python %q: %v", r.Name, r.Version, wi.filename, md.RequiresPython, err),
				Fix:     fixUpgrade + " to a version with valid metadata"})
		case !ok:
			tc.add(Problem{Kind: KindRequiresPython, Package: r.Key,
				Message: fmt.Sprintf("%s %s requires Python %s but %s has Python %s", r.Name, r.Version, md.RequiresPython, t.Platform, py),
				Fix:     fixUpgrade + " to a version that supports Python " + py})
		}
	}
	tc.deps[r.Key] = wi.deps
	return nil
}

// wheel fetches (through the cache, checked against the lock's hash) and
// reads the METADATA of f once.
func (c *checker) wheel(ctx context.Context, r *lock.Requirement, f wheels.File) (*wheelInfo, error) {
	if wi, ok := c.wheels[f.SHA256]; ok {
		return wi, nil
	}
	wi := &wheelInfo{filename: f.Filename}
	fixUpgrade := "run harden lock --upgrade-package " + r.Key
	fh, err := c.o.Cache.Open(ctx, c.src.Source, f, f.SHA256)
	if err == nil {
		defer fh.Close()
	}
	switch {
	case err != nil && errs.ExitCode(err) == errs.CodeInput:
		wi.bad = &Problem{Kind: KindWheel, Package: r.Key, Message: err.Error(), Fix: "review why the file changed, then " + fixUpgrade}
		c.wheels[f.SHA256] = wi
		return wi, nil
	case err != nil:
		return nil, fmt.Errorf("%s==%s: %w", r.Name, r.Version, err)
	}
	size, err := wheels.Size(fh)
	if err != nil {
		return nil, fmt.Errorf("%s==%s: read %s: %w", r.Name, r.Version, f.Filename, err)
	}
	md, _, err := wheel.ReadMetadata(fh, size, f.Filename)
	if err != nil {
		wi.bad = &Problem{Kind: KindMetadata, Package: r.Key, Message: fmt.Sprintf("%s %s: %v", r.Name, r.Version, err), Fix: fixUpgrade + " to a version with a valid wheel"}
		c.wheels[f.SHA256] = wi
		return wi, nil
	}
	wi.md = md
	for _, rd := range md.RequiresDist {
		dep, err := parseRequiresDist(rd)
		if err != nil {
			wi.bad = &Problem{Kind: KindMetadata, Package: r.Key,
				Message: fmt.Sprintf("%s %s: wheel %s has an unparseable Requires-Dist %q: %v", r.Name, r.Version, f.Filename, rd, err),
				Fix:     fixUpgrade + " to a version with valid metadata"}
			break
		}
		wi.deps = append(wi.deps, dep)
	}
	c.wheels[f.SHA256] = wi
	return wi, nil
}

// dependencies checks the top-level requirements and every dependency
// the target's wheels declare, following requested extras to a fixed
// point: an extra requested of a package adds the dependencies its
// Requires-Dist gates on that extra.
func (c *checker) dependencies(tc *targetCheck) {
	t := tc.t
	extras := map[string]map[string]bool{}
	var queue []string
	request := func(key string, es []string) {
		if extras[key] == nil {
			extras[key] = map[string]bool{}
		}
		grew := false
		for _, e := range es {
			if !extras[key][e] {
				extras[key][e] = true
				grew = true
			}
		}
		if grew {
			queue = append(queue, key)
		}
	}
	for _, r := range tc.order {
		request(r.Key, r.Extras)
		queue = append(queue, r.Key)
	}
	if in := c.o.Input; in != nil {
		for _, ir := range in.Requirements {
			c.required[ir.Key] = true
			ok, err := applies(ir.Marker, t.Env)
			if err != nil {
				tc.add(Problem{Kind: KindMarker, Package: ir.Key, Message: fmt.Sprintf("%s line %d: %s: %v", base(in.Path, "requirements.in"), ir.Line, ir.Name, err), Fix: "fix the marker in " + base(in.Path, "requirements.in")})
				continue
			}
			if !ok {
				continue
			}
			who := fmt.Sprintf("%s line %d asks for %s", base(in.Path, "requirements.in"), ir.Line, display(ir))
			c.edge(tc, who, ir)
			request(ir.Key, ir.Extras)
		}
	}
	checked := map[string]bool{} // pin key + dependency index
	for len(queue) > 0 {
		key := queue[0]
		queue = queue[1:]
		pin := tc.pins[key]
		if pin == nil {
			continue
		}
		es := []string{""}
		for e := range extras[key] {
			es = append(es, e)
		}
		sort.Strings(es)
		for i, dep := range tc.deps[key] {
			id := fmt.Sprintf("%s\x00%d", key, i)
			if checked[id] {
				continue
			}
			for _, e := range es {
				env := t.Env.WithExtra(e)
				ok, err := applies(dep.Marker, env)
				if err != nil {
					tc.add(Problem{Kind: KindMetadata, Package: key,
						Message: fmt.Sprintf("%s %s: Requires-Dist %s; %s: %v", pin.Name, pin.Version, display(dep), dep.Marker, err),
						Fix:     "run harden lock --upgrade-package " + key + " to a version with valid metadata"})
					checked[id] = true
					break
				}
				if !ok {
					continue
				}
				checked[id] = true
				who := pin.Name
				if e != "" {
					who += "[" + e + "]"
				}
				c.required[dep.Key] = true
				c.edge(tc, fmt.Sprintf("%s %s requires %s", who, pin.Version, display(dep)), dep)
				request(dep.Key, dep.Extras)
				break
			}
		}
	}
}

// edge checks that req, which who asks for, is pinned at a version it
// accepts.
func (c *checker) edge(tc *targetCheck, who string, req lock.InputRequirement) {
	pin := tc.pins[req.Key]
	if pin == nil {
		tc.add(Problem{Kind: KindUnpinned, Package: req.Key,
			Message: fmt.Sprintf("%s but the lock pins no %s for %s", who, req.Name, tc.t.Platform),
			Fix:     "run harden lock"})
		return
	}
	ok, err := admits(req.Specifier, pin.Version)
	switch {
	case err != nil:
		tc.add(Problem{Kind: KindVersion, Package: req.Key,
			Message: fmt.Sprintf("%s, an unusable specifier: %v", who, err),
			Fix:     "run harden lock --upgrade-package " + req.Key})
	case !ok:
		tc.add(Problem{Kind: KindVersion, Package: req.Key,
			Message: fmt.Sprintf("%s but the lock pins %s %s", who, pin.Name, pin.Version),
			Fix:     "run harden lock --upgrade-package " + req.Key})
	}
}

// unused warns about pins that are neither top-level nor required by any
// pin on any target. It says nothing without requirements.in, or when
// some wheel could not be read, since either would make it guess.
func (c *checker) unused() []Problem {
	if c.o.Input == nil || c.incomplete {
		return nil
	}
	var out []Problem
	done := map[string]bool{}
	for _, r := range c.o.Lock.Requirements {
		if c.required[r.Key] || done[r.Key] {
			continue
		}
		done[r.Key] = true
		out = append(out, Problem{Kind: KindUnused, Package: r.Key,
			Message: fmt.Sprintf("%s %s is pinned but nothing requires it: it is not in %s and no pin depends on it on any target", r.Name, r.Version, base(c.o.Input.Path, "requirements.in")),
			Fix:     "run harden lock to drop it, or add it to " + base(c.o.Input.Path, "requirements.in") + " if the image needs it"})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Package < out[j].Package })
	return out
}

// parseRequiresDist parses one Requires-Dist value with the
// requirements.in grammar, which is PEP 508 without URLs.
func parseRequiresDist(s string) (lock.InputRequirement, error) {
	in, err := lock.ParseInput(strings.NewReader(s), "Requires-Dist")
	if err != nil {
		var pe *lock.ParseError
		if errors.As(err, &pe) {
			return lock.InputRequirement{}, errors.New(pe.Problem)
		}
		return lock.InputRequirement{}, err
	}
	if len(in.Requirements) != 1 {
		return lock.InputRequirement{}, errors.New("want one requirement")
	}
	return in.Requirements[0], nil
}

// admits reports whether the PEP 440 specifier spec ("" for any) admits
// version. Pre-releases count, as for a version already chosen.
func admits(spec, version string) (bool, error) {
	if strings.TrimSpace(spec) == "" {
		return true, nil
	}
	s, err := pep440.NewSpecifiers(spec, pep440.WithPreRelease(true))
	if err != nil {
		return false, err
	}
	v, err := pep440.Parse(version)
	if err != nil {
		return false, fmt.Errorf("version %q: %w", version, err)
	}
	return s.Check(v), nil
}

func applies(marker string, env lock.Env) (bool, error) {
	if marker == "" {
		return true, nil
	}
	m, err := lock.ParseMarker(marker)
	if err != nil {
		return false, err
	}
	return m.Eval(env)
}

// display renders a requirement without its marker, e.g. "sqlparse<0.5,>=0.3.0".
func display(r lock.InputRequirement) string {
	s := r.Name
	if len(r.Extras) > 0 {
		s += "[" + strings.Join(r.Extras, ",") + "]"
	}
	return s + r.Specifier
}

// base is the file name of p for messages; def stands in for "".
func base(p, def string) string {
	if p == "" {
		return def
	}
	return filepath.Base(p)
}
