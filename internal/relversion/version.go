// Package relversion decides an image's next release version. Versions
// are "<app-version>-r<N>": the version the lock pins for the app, and a
// packaging revision that counts releases of that app version. N goes up
// when only the base, the lock or the packaging changed, and restarts at 1
// when the app version changes.
package relversion

import (
	"fmt"
	"regexp"
	"strconv"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// Version is one image version.
type Version struct {
	App string // PEP 440 version of the app, as pinned
	Rev int    // packaging revision, from 1
}

func (v Version) String() string { return v.App + "-r" + strconv.Itoa(v.Rev) }

var (
	versionRE = regexp.MustCompile(`^(.+)-r([1-9][0-9]*)$`)
	// An image version is also a tag.
	tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// Parse reads "<app-version>-r<N>", with a valid PEP 440 app version and
// N ≥ 1, that is also usable as an image tag.
func Parse(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not <app-version>-r<N>, e.g. 4.3.0-r1", s)
	}
	if _, err := pep440.Parse(m[1]); err != nil {
		return Version{}, fmt.Errorf("%q: %q is not a PEP 440 version; use <app-version>-r<N>, e.g. 4.3.0-r1", s, m[1])
	}
	if !tagRE.MatchString(s) {
		return Version{}, fmt.Errorf("%q cannot be an image tag; use letters, digits, '.', '_' and '-', e.g. 4.3.0-r1", s)
	}
	rev, err := strconv.Atoi(m[2])
	if err != nil {
		return Version{}, fmt.Errorf("%q: revision %s: %w", s, m[2], err)
	}
	return Version{App: m[1], Rev: rev}, nil
}

// sameApp compares app versions by PEP 440, so 4.3 and 4.3.0 agree.
func sameApp(a, b string) bool {
	va, err := pep440.Parse(a)
	if err != nil {
		return false
	}
	vb, err := pep440.Parse(b)
	return err == nil && va.Equal(vb)
}

// Bump returns the version after last for an app now at appVersion:
// revision 1 of a new app version, else the next revision, or last itself
// when nothing changed.
func Bump(last Version, appVersion string, changed bool) Version {
	switch {
	case !sameApp(last.App, appVersion):
		return Version{App: appVersion, Rev: 1}
	case !changed:
		return last
	default:
		return Version{App: last.App, Rev: last.Rev + 1}
	}
}
