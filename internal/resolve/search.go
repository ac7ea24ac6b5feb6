package resolve

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheels"
)

// resolver holds what one resolution learns; it is not safe for
// concurrent use.
type resolver struct {
	o        Options
	src      wheels.Source
	cache    *wheels.Cache
	targets  []baseimage.Target
	all      mask
	tags     []map[wheel.Tag]bool // per target
	roots    []root
	prefer   map[string]string // key → previously locked version
	projects map[string]*listing
	pyCache  map[string]mask
	envs     map[evalKey]lock.Env
	steps    int
	maxSteps int
	warned   map[string]bool
	warnings []string
	conflict *conflict // the first dead end met (see record), explained on failure
	solution *solution
}

// root is a requirements.in line with the targets its marker selects.
type root struct {
	dep  *dep
	mask mask
}

func newResolver(o Options) (*resolver, error) {
	if o.Input == nil || o.Source == nil {
		return nil, fmt.Errorf("resolve: Input and Source are required")
	}
	if len(o.Targets) == 0 || len(o.Targets) > 64 {
		return nil, errs.Input(fmt.Errorf("resolve: %d target platforms; want 1 to 64", len(o.Targets)))
	}
	r := &resolver{
		o: o, src: o.Source, cache: o.Cache,
		prefer: map[string]string{}, projects: map[string]*listing{}, pyCache: map[string]mask{},
		envs: map[evalKey]lock.Env{}, warned: map[string]bool{}, maxSteps: o.MaxSteps,
	}
	if r.maxSteps <= 0 {
		r.maxSteps = defaultMaxSteps
	}
	if r.o.InputName == "" {
		r.o.InputName = filepath.Base(o.Input.Path)
	}
	for i, t := range o.Targets {
		if t.Env == nil {
			return nil, fmt.Errorf("resolve: target %s has no marker environment", t.Platform)
		}
		r.targets = append(r.targets, t)
		r.all |= 1 << uint(i)
		tags := map[wheel.Tag]bool{}
		for _, tag := range t.Wheel.Tags() {
			tags[tag] = true
		}
		r.tags = append(r.tags, tags)
	}
	for _, ir := range o.Input.Requirements {
		d, err := depOf(ir)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("%s:%d: %w", o.Input.Path, ir.Line, err))
		}
		m := r.depMask(d, r.all, nil)
		r.roots = append(r.roots, root{dep: d, mask: m})
	}
	upgrade := map[string]bool{}
	for _, n := range o.Upgrade {
		upgrade[lock.NormalizeName(n)] = true
	}
	if o.Previous != nil && !o.UpgradeAll {
		for _, q := range o.Previous.Requirements {
			if _, dup := r.prefer[q.Key]; !dup && !upgrade[q.Key] {
				r.prefer[q.Key] = q.Version
			}
		}
	}
	return r, nil
}

func (r *resolver) logf(format string, args ...any) {
	if r.o.Log != nil {
		r.o.Log(format, args...)
	}
}

func (r *resolver) warn(msg string) {
	if !r.warned[msg] {
		r.warned[msg] = true
		r.warnings = append(r.warnings, msg)
	}
}

// env is the marker environment of a target with "extra" set.
func (r *resolver) env(ti int, extra string) lock.Env {
	k := evalKey{ti, extra}
	if e, ok := r.envs[k]; ok {
		return e
	}
	e := r.targets[ti].Env.WithExtra(extra)
	r.envs[k] = e
	return e
}

// holds evaluates d's marker on a target with "extra" set. A marker that
// cannot be evaluated there does not hold, with a warning.
func (r *resolver) holds(d *dep, ti int, extra string) bool {
	if d.marker == nil {
		return true
	}
	k := evalKey{ti, extra}
	if ok, seen := d.evals[k]; seen {
		return ok
	}
	ok, err := d.marker.Eval(r.env(ti, extra))
	if err != nil {
		r.warn(fmt.Sprintf("%s: %v; treated as false on %s", d.display(), err, r.targets[ti].Platform))
		ok = false
	}
	d.evals[k] = ok
	return ok
}

// depMask is the set of targets on which a package needed on needed, with
// extras requested on the given targets, requires d.
func (r *resolver) depMask(d *dep, needed mask, extras map[string]mask) mask {
	var m mask
	needed.each(func(ti int) {
		if r.holds(d, ti, "") {
			m |= 1 << uint(ti)
		}
	})
	for x, xm := range extras {
		(xm &^ m).each(func(ti int) {
			if r.holds(d, ti, x) {
				m |= 1 << uint(ti)
			}
		})
	}
	return m
}

// assignment is the search's current partial solution.
type assignment struct {
	order []string
	rel   map[string]*release
}

func (a *assignment) push(key string, rel *release) {
	a.order = append(a.order, key)
	a.rel[key] = rel
}

func (a *assignment) pop() {
	key := a.order[len(a.order)-1]
	a.order = a.order[:len(a.order)-1]
	delete(a.rel, key)
}

// edge is one requirement on a package: from requirements.in (parent "")
// or from a chosen release's Requires-Dist, active on mask.
type edge struct {
	parent  string
	version string
	dep     *dep
	mask    mask
}

// describe renders an edge for messages: "pgcli 3.5.0 requires
// sqlparse<0.5,>=0.3.0" or "requirements.in:1 requires pgcli==3.5.0".
func (r *resolver) describe(e edge) string {
	if e.parent == "" {
		return fmt.Sprintf("%s:%d requires %s", r.o.InputName, e.dep.line, e.dep.display())
	}
	return fmt.Sprintf("%s %s requires %s", e.parent, e.version, e.dep.display())
}

// closure is what an assignment implies: on which targets each package
// is needed, with which extras, and every requirement on it.
type closure struct {
	needed map[string]mask
	extras map[string]map[string]mask
	edges  map[string][]edge
	order  []string // packages in the order they were reached
}

// closure propagates needs from requirements.in through the chosen
// releases' dependencies to a fixed point. Masks only grow, so it ends.
func (r *resolver) closure(a *assignment) *closure {
	c := &closure{needed: map[string]mask{}, extras: map[string]map[string]mask{}, edges: map[string][]edge{}}
	grow := func(d *dep, m mask) bool {
		if m == 0 {
			return false
		}
		changed := false
		old, seen := c.needed[d.key]
		if !seen {
			c.order = append(c.order, d.key)
		}
		if old|m != old {
			c.needed[d.key] = old | m
			changed = true
		}
		for _, x := range d.extras {
			xs := c.extras[d.key]
			if xs == nil {
				xs = map[string]mask{}
				c.extras[d.key] = xs
			}
			if xs[x]|m != xs[x] {
				xs[x] |= m
				changed = true
			}
		}
		return changed
	}
	for changed := true; changed; {
		changed = false
		for _, rt := range r.roots {
			changed = grow(rt.dep, rt.mask) || changed
		}
		for _, key := range a.order {
			for _, d := range a.rel[key].meta.deps {
				changed = grow(d, r.depMask(d, c.needed[key], c.extras[key])) || changed
			}
		}
	}
	for _, rt := range r.roots {
		if rt.mask != 0 {
			c.edges[rt.dep.key] = append(c.edges[rt.dep.key], edge{dep: rt.dep, mask: rt.mask})
		}
	}
	for _, key := range a.order {
		rel := a.rel[key]
		for _, d := range rel.meta.deps {
			if m := r.depMask(d, c.needed[key], c.extras[key]); m != 0 {
				c.edges[d.key] = append(c.edges[d.key], edge{parent: key, version: rel.version, dep: d, mask: m})
			}
		}
	}
	return c
}

// solution is a complete assignment and its closure.
type solution struct {
	rel map[string]*release
	c   *closure
}

// search extends a depth first: it validates the assignment, picks the
// next undecided package in the order packages were reached and tries its
// candidates, newest (or previously locked) first. Metadata is fetched
// once per release.
//
// On a dead end it backjumps: a failure returns its culprits, the chosen
// packages that can reach the failing one through requirements. Only they
// can change its requirements or the platforms it is needed on (choices
// elsewhere can only add requirements), so levels deciding other packages
// are skipped instead of being retried.
func (r *resolver) search(ctx context.Context, a *assignment) (bool, set, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	r.steps++
	if r.steps > r.maxSteps {
		msg := fmt.Sprintf("gave up after trying %d combinations of versions; narrow the ranges in %s", r.maxSteps, r.o.InputName)
		if r.conflict != nil {
			msg += "; the first conflict: " + r.explain(r.conflict).Error()
		}
		return false, nil, errs.Input(fmt.Errorf("%s", msg))
	}
	c := r.closure(a)
	if cf := r.validate(a, c); cf != nil {
		r.record(cf)
		culprits := c.ancestors(cf.key)
		culprits[cf.key] = true
		return false, culprits, nil
	}
	next := ""
	for _, k := range c.order {
		if a.rel[k] == nil {
			next = k
			break
		}
	}
	if next == "" {
		r.solution = &solution{rel: copyRel(a.rel), c: c}
		return true, nil, nil
	}
	cands, cf, err := r.candidates(ctx, next, c)
	if err != nil {
		return false, nil, err
	}
	// Whatever fails below, the requirements on next and where it is
	// needed come from its ancestors.
	culprits := c.ancestors(next)
	if len(cands) == 0 {
		r.record(cf)
		return false, culprits, nil
	}
	for _, rel := range cands {
		if err := r.loadMeta(ctx, next, rel, c.needed[next]); err != nil {
			return false, nil, err
		}
		if rel.coverage()&c.needed[next] != c.needed[next] {
			r.record(&conflict{kind: noWheel, key: next, need: c.needed[next], tried: []*release{rel}, edges: c.edges[next]})
			continue
		}
		a.push(next, rel)
		ok, below, err := r.search(ctx, a)
		a.pop()
		if ok || err != nil {
			return ok, nil, err
		}
		if !below[next] {
			// Another version of next cannot help: jump back.
			return false, below, nil
		}
		for k := range below {
			if k != next {
				culprits[k] = true
			}
		}
	}
	return false, culprits, nil
}

// set is a set of package keys.
type set map[string]bool

// ancestors returns the packages from which key is reachable through the
// requirements of the closure.
func (c *closure) ancestors(key string) set {
	out := set{}
	queue := []string{key}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, e := range c.edges[k] {
			if e.parent != "" && !out[e.parent] {
				out[e.parent] = true
				queue = append(queue, e.parent)
			}
		}
	}
	delete(out, key)
	return out
}

func copyRel(m map[string]*release) map[string]*release {
	out := make(map[string]*release, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// record keeps the first dead end for the error message, and merges
// into it later dead ends on the same package, so that the message names
// every version tried (e.g. each version of a parent that conflicts).
func (r *resolver) record(cf *conflict) {
	first := r.conflict
	if first == nil {
		r.conflict = cf
		return
	}
	if cf.key != first.key || cf.kind != first.kind {
		return
	}
	seen := map[string]bool{}
	for _, e := range first.edges {
		seen[r.describe(e)] = true
	}
	for _, e := range cf.edges {
		if d := r.describe(e); !seen[d] {
			seen[d] = true
			first.edges = append(first.edges, e)
		}
	}
	for _, rel := range cf.tried {
		if !slices.Contains(first.tried, rel) {
			first.tried = append(first.tried, rel)
		}
	}
	first.need |= cf.need
}

// validate checks every chosen release against the requirements on it and
// the targets it is now needed on.
func (r *resolver) validate(a *assignment, c *closure) *conflict {
	for _, key := range a.order {
		rel := a.rel[key]
		for _, e := range c.edges[key] {
			if !e.dep.admits(rel.v) {
				return &conflict{kind: noVersion, key: key, edges: c.edges[key], project: r.projects[key]}
			}
		}
		if need := c.needed[key]; rel.coverage()&need != need {
			return &conflict{kind: noWheel, key: key, need: need, tried: []*release{rel}, edges: c.edges[key]}
		}
	}
	return nil
}

// candidates returns the releases of key that every requirement on it
// admits and that fit every target it is needed on, in the order to try.
func (r *resolver) candidates(ctx context.Context, key string, c *closure) ([]*release, *conflict, error) {
	p, err := r.loadProject(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	edges, need := c.edges[key], c.needed[key]
	if len(p.releases) == 0 {
		return nil, &conflict{kind: missing, key: key, edges: edges}, nil
	}
	pre := false
	for _, e := range edges {
		pre = pre || e.dep.pre
	}
	var admitted []*release
	for _, rel := range p.releases {
		ok := true
		for _, e := range edges {
			ok = ok && e.dep.admits(rel.v)
		}
		if ok {
			admitted = append(admitted, rel)
		}
	}
	if len(admitted) == 0 {
		return nil, &conflict{kind: noVersion, key: key, edges: edges, project: p}, nil
	}
	var fit, finals []*release
	for _, rel := range admitted {
		if rel.coverage()&need == need {
			fit = append(fit, rel)
			if !rel.pre {
				finals = append(finals, rel)
			}
		}
	}
	if len(fit) == 0 {
		tried := admitted
		if !pre {
			// Explain with the releases pip would consider first.
			var fin []*release
			for _, rel := range admitted {
				if !rel.pre {
					fin = append(fin, rel)
				}
			}
			if len(fin) > 0 {
				tried = fin
			}
		}
		return nil, &conflict{kind: noWheel, key: key, need: need, tried: tried, edges: edges}, nil
	}
	// PEP 440: pre-releases only when asked for or when nothing else fits.
	if !pre && len(finals) > 0 {
		fit = finals
	}
	if v, ok := r.prefer[key]; ok {
		for i, rel := range fit {
			if lock.SameVersion(rel.version, v) {
				fit = append([]*release{rel}, append(append([]*release(nil), fit[:i]...), fit[i+1:]...)...)
				break
			}
		}
	}
	return fit, nil, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
