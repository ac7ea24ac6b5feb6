// Package resolve turns requirements.in into a hash-locked
// requirements.lock: it reads the index's file lists and the wheels'
// core metadata (PEP 691/503/658), picks one version of every package
// that has a fitting wheel on each target platform of the image
// (PEP 440/508, with backtracking), and writes a lock pip accepts with
// --require-hashes --only-binary=:all:.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/wheels"
)

// Options are the inputs of one resolution.
type Options struct {
	Input   *lock.Input
	Source  wheels.Source
	Cache   *wheels.Cache      // optional: wheels read for their METADATA go through it
	Targets []baseimage.Target // the image's platforms; at most 64
	// Previous is the lock being replaced, nil for a first lock. Its pins
	// are tried first, except for the packages being upgraded.
	Previous   *lock.File
	Upgrade    []string // package names to move to their newest fitting version
	UpgradeAll bool     // ignore every previous pin
	// InputName is how the lock's "# via -r" comments name requirements.in;
	// "" means the base name of Input.Path.
	InputName string
	Log       func(format string, args ...any)
	// MaxSteps bounds the search; 0 means defaultMaxSteps.
	MaxSteps int
}

const defaultMaxSteps = 200000

// Result is a resolved, locked package set.
type Result struct {
	Platforms []string  `json:"platforms"`
	Python    []string  `json:"python"` // distinct python_full_version of the targets
	InputName string    `json:"input"`
	Packages  []Package `json:"packages"` // sorted by name
	Warnings  []string  `json:"warnings,omitempty"`
}

// Package is one pinned package of a Result.
type Package struct {
	Name      string   `json:"name"` // PEP 503 normalised
	Version   string   `json:"version"`
	Marker    string   `json:"marker,omitempty"` // set when needed on only some platforms
	Platforms []string `json:"platforms"`        // where it is needed
	Hashes    []string `json:"hashes"`           // sha256 hex of every fitting wheel, sorted
	Via       []string `json:"via"`              // "-r <input>" and/or parent names, sorted
	// Files are the wheels behind Hashes, sorted by filename.
	Files []wheels.File `json:"-"`
	// Provenance is what harden lock verified of the files' upstream
	// attestations (written as "# provenance:" comments).
	Provenance []lock.FileProvenance `json:"provenance,omitempty"`
}

// Resolve picks one version of every package requirements need on any
// of the targets. Conflicts and missing wheels are errs.Input errors that
// name the packages, versions and platforms involved; index failures keep
// their class (errs.Unreachable for network problems).
func Resolve(ctx context.Context, o Options) (*Result, error) {
	r, err := newResolver(o)
	if err != nil {
		return nil, err
	}
	ok, _, err := r.search(ctx, &assignment{rel: map[string]*release{}})
	if err != nil {
		return nil, err
	}
	if !ok {
		if r.conflict == nil {
			return nil, errs.Input(errors.New("no set of versions satisfies requirements"))
		}
		return nil, errs.Input(r.explain(r.conflict))
	}
	res, err := r.result(ctx)
	if err != nil {
		return nil, err
	}
	if len(res.Packages) == 0 {
		return nil, errs.Input(fmt.Errorf("%s requires nothing on %s; list the top-level requirements in it (one per line, e.g. <project>==<version>)", o.Input.Path, joinAnd(res.Platforms)))
	}
	return res, nil
}

// Change is a difference between two locks: Old "" is an addition, New
// "" a removal.
type Change struct {
	Name string `json:"name"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Diff lists what res changes against prev (nil: everything is added),
// sorted by name.
func Diff(prev *lock.File, res *Result) []Change {
	old := map[string]string{}
	if prev != nil {
		for _, q := range prev.Requirements {
			if _, dup := old[q.Key]; !dup {
				old[q.Key] = q.Version
			}
		}
	}
	out := []Change{}
	seen := map[string]bool{}
	for _, p := range res.Packages {
		seen[p.Name] = true
		if v, ok := old[p.Name]; !ok || !lock.SameVersion(v, p.Version) {
			out = append(out, Change{Name: p.Name, Old: v, New: p.Version})
		}
	}
	for k, v := range old {
		if !seen[k] {
			out = append(out, Change{Name: k, Old: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// String renders a change as "name old -> new", "+name new" or "-name old".
func (c Change) String() string {
	switch {
	case c.Old == "":
		return "+ " + c.Name + " " + c.New
	case c.New == "":
		return "- " + c.Name + " " + c.Old
	}
	return fmt.Sprintf("~ %s %s -> %s", c.Name, c.Old, c.New)
}

func platformList(ts []baseimage.Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Platform
	}
	return out
}

func pythonList(ts []baseimage.Target) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		v := t.Env["python_full_version"]
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
