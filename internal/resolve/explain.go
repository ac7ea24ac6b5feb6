package resolve

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

type conflictKind int

const (
	missing   conflictKind = iota // the source has no file of the package
	noVersion                     // no version satisfies every requirement
	noWheel                       // the admitted versions lack a wheel for a target
)

// conflict is a dead end of the search, kept to explain a failure.
type conflict struct {
	kind    conflictKind
	key     string
	edges   []edge
	project *listing   // noVersion: what is available
	need    mask       // noWheel: where the package is needed
	tried   []*release // noWheel: the versions that lack a wheel
}

// maxListed bounds the versions a message lists.
const maxListed = 12

// explain turns a conflict into an error a person can act on.
func (r *resolver) explain(cf *conflict) error {
	var reqs []string
	seen := map[string]bool{}
	for _, e := range cf.edges {
		if s := r.describe(e); !seen[s] {
			seen[s] = true
			reqs = append(reqs, s)
		}
	}
	switch cf.kind {
	case missing:
		return fmt.Errorf("%s is not in %s (%s); check the name, or point --index-url or --wheel-dir at a source that has it",
			cf.key, r.src, strings.Join(reqs, "; "))
	case noVersion:
		var avail []string
		if cf.project != nil {
			for i := len(cf.project.releases) - 1; i >= 0; i-- {
				rel := cf.project.releases[i]
				if len(rel.wheels) > 0 || len(rel.sdists) > 0 {
					avail = append(avail, rel.version)
				}
			}
		}
		if len(avail) > maxListed {
			avail = append([]string{"..."}, avail[len(avail)-maxListed:]...)
		}
		if len(avail) == 0 {
			avail = []string{"none"}
		}
		return fmt.Errorf("no version of %s satisfies all requirements: %s (available: %s)",
			cf.key, strings.Join(reqs, "; "), strings.Join(avail, ", "))
	case noWheel:
		var b strings.Builder
		n := 0
		for i, rel := range cf.tried {
			if n == 5 {
				fmt.Fprintf(&b, "; and %d older versions", len(cf.tried)-i)
				break
			}
			ti := -1
			(cf.need &^ rel.coverage()).each(func(t int) {
				if ti < 0 {
					ti = t
				}
			})
			if ti < 0 {
				continue
			}
			if n == 0 {
				fmt.Fprintf(&b, "no wheel of %s %s fits %s: %s", cf.key, rel.version, r.targetDesc(ti), r.offers(rel, ti))
			} else {
				fmt.Fprintf(&b, "; nor of %s on %s: %s", rel.version, r.targets[ti].Platform, r.offers(rel, ti))
			}
			n++
		}
		b.WriteString("; harden locks wheels only")
		if len(reqs) > 0 {
			b.WriteString(" (" + strings.Join(reqs, "; ") + ")")
		}
		return errors.New(b.String())
	}
	return fmt.Errorf("cannot resolve %s", cf.key)
}

// targetDesc is e.g. "linux/arm64 (cp311, glibc 2.36)".
func (r *resolver) targetDesc(ti int) string {
	t := r.targets[ti]
	w := t.Wheel
	impl := w.Implementation
	if impl == "" {
		impl = "cp"
	}
	return fmt.Sprintf("%s (%s%d%d, glibc %d.%d)", t.Platform, impl, w.PythonMajor, w.PythonMinor, w.GlibcMajor, w.GlibcMinor)
}

var archSuffix = regexp.MustCompile(`^(?:manylinux|musllinux)_\d+_\d+_(.+)$|^manylinux(?:1|2010|2014)_(.+)$`)

// offers says what a release has instead of a wheel for target ti,
// e.g. "only sdists and x86_64 wheels".
func (r *resolver) offers(rel *release, ti int) string {
	t := r.targets[ti]
	if rel.meta != nil && !rel.meta.pythonOK.has(ti) {
		return fmt.Sprintf("it requires Python %s, the image has %s", rel.meta.requiresPython, t.Env["python_full_version"])
	}
	var parts []string
	if len(rel.sdists) > 0 {
		parts = append(parts, "sdists")
	}
	labels, pythons := map[string]bool{}, map[string]bool{}
	for _, w := range rel.wheels {
		if !r.pythonOK(w.file.RequiresPython).has(ti) {
			pythons[w.file.RequiresPython] = true
			continue
		}
		for _, tag := range w.name.Tags {
			labels[r.platformLabel(tag.Python, tag.Platform, ti)] = true
		}
	}
	if ls := sortedKeys(labels); len(ls) > 0 {
		parts = append(parts, strings.Join(ls, ", ")+" wheels")
	}
	if ps := sortedKeys(pythons); len(ps) > 0 {
		parts = append(parts, fmt.Sprintf("wheels that require Python %s (the image has %s)", strings.Join(ps, " or "), t.Env["python_full_version"]))
	}
	if len(rel.yanked) > 0 {
		parts = append(parts, "yanked wheels")
	}
	if len(parts) == 0 {
		return "no files"
	}
	return "only " + joinAnd(parts)
}

// platformLabel names a wheel platform for a target it does not fit: the
// architecture when it differs, the whole tag when only glibc differs.
func (r *resolver) platformLabel(py, plat string, ti int) string {
	switch {
	case plat == "any":
		return py
	case strings.HasPrefix(plat, "win"):
		return "Windows"
	case strings.HasPrefix(plat, "macosx"):
		return "macOS"
	case strings.HasPrefix(plat, "musllinux"):
		return "musllinux"
	}
	if m := archSuffix.FindStringSubmatch(plat); m != nil {
		arch := m[1] + m[2]
		if arch == r.targets[ti].Env["platform_machine"] {
			return plat
		}
		return arch
	}
	return plat
}
