package sbom

import (
	"fmt"
	"slices"
	"strings"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/lock"
)

// pythonType is syft's package type for Python distributions.
const pythonType = "python"

// DriftError reports Python packages in the image that disagree with the
// locked wheels. Entries are "name version" (Missing, Unexpected) or
// "name: lock X, sbom Y" (Mismatched), sorted.
type DriftError struct {
	Platform   string
	Missing    []string // locked wheels not installed
	Unexpected []string // installed by harden's layers but not locked
	Mismatched []string // installed at a version other than the locked one
}

func (e *DriftError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the image's Python packages do not match the lock", e.Platform)
	list := func(what string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(&b, "\n  %s: %s", what, strings.Join(items, "; "))
		}
	}
	list("missing (locked, not in the image)", e.Missing)
	list("version mismatch", e.Mismatched)
	list("unexpected (in the image, not locked)", e.Unexpected)
	b.WriteString("\nrebuild the image from the lock with harden build; if the lock is what is wrong, fix requirements.lock and rebuild")
	return b.String()
}

// CheckLock cross-checks the SBOM against the wheels locked for its
// platform. Every wheel must appear as a Python package at its exact
// version in the layers harden added (appLayers), and no Python package
// in those layers may be missing from the wheel list. Python packages
// found only in base layers are the base image's business and allowed.
// Names are compared PEP 503-normalised, versions by PEP 440 equality.
func CheckLock(s *SBOM, wheels []buildrecord.WheelRecord, appLayers []string) error {
	if len(appLayers) == 0 {
		return fmt.Errorf("%s: the build record lists no application layers, so the SBOM cannot be checked against the lock; rebuild with this harden", s.Platform)
	}
	// Python packages in the app layers, by normalised name.
	installed := map[string][]Package{}
	for _, p := range s.Packages {
		if p.Type != pythonType || !slices.ContainsFunc(p.Layers, func(l string) bool { return slices.Contains(appLayers, l) }) {
			continue
		}
		n := lock.NormalizeName(p.Name)
		installed[n] = append(installed[n], p)
	}

	drift := &DriftError{Platform: s.Platform}
	locked := map[string]bool{}
	for _, w := range wheels {
		n := lock.NormalizeName(w.Name)
		locked[n] = true
		found := installed[n]
		match := slices.IndexFunc(found, func(p Package) bool { return lock.SameVersion(p.Version, w.Version) })
		switch {
		case len(found) == 0:
			drift.Missing = append(drift.Missing, n+" "+w.Version)
		case match < 0:
			var vs []string
			for _, p := range found {
				vs = append(vs, p.Version)
			}
			drift.Mismatched = append(drift.Mismatched, fmt.Sprintf("%s: lock %s, sbom %s", n, w.Version, strings.Join(vs, ", ")))
		default:
			// A second copy at another version is unexpected too.
			for i, p := range found {
				if i != match && !lock.SameVersion(p.Version, w.Version) {
					drift.Unexpected = append(drift.Unexpected, n+" "+p.Version)
				}
			}
		}
	}
	for n, ps := range installed {
		if locked[n] {
			continue
		}
		for _, p := range ps {
			drift.Unexpected = append(drift.Unexpected, n+" "+p.Version)
		}
	}
	if len(drift.Missing)+len(drift.Mismatched)+len(drift.Unexpected) == 0 {
		return nil
	}
	slices.Sort(drift.Missing)
	slices.Sort(drift.Mismatched)
	slices.Sort(drift.Unexpected)
	return drift
}
