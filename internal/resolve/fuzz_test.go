package resolve

import (
	"testing"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// FuzzRequiresDist feeds one Requires-Dist value and one candidate version
// through what the resolver does with them: parse the requirement (PEP
// 508), its specifier (PEP 440) and the version, then judge the version.
// Nothing may panic; a parsed version must compare equal to its canonical
// form; judging must be stable.
func FuzzRequiresDist(f *testing.F) {
	f.Fuzz(func(t *testing.T, req, version string) {
		d, err := newDep(req)
		if err != nil {
			return
		}
		if d.key == "" {
			t.Fatalf("%q parsed with an empty name", req)
		}
		v, err := pep440.Parse(version)
		if err != nil {
			return
		}
		canon, err := pep440.Parse(v.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", v.String(), version, err)
		}
		if v.Compare(canon) != 0 {
			t.Fatalf("%q and its canonical form %q compare %d", version, v.String(), v.Compare(canon))
		}
		if d.admits(v) != d.admits(canon) {
			t.Fatalf("%s judges %q and its canonical form %q differently", d.display(), version, v.String())
		}
		_ = namesPreRelease(d.spec)
	})
}
