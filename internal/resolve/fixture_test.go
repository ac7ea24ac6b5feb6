package resolve

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/wheel"
)

// fixtures returns the fixture directory (fixture.Load skips, or fails
// with HARDEN_REQUIRE_FIXTURES=1, when it is not built).
func fixtures(t *testing.T) string {
	t.Helper()
	return fixture.Load(t).Dir
}

// TestFixtureLock resolves the fixture's requirements.in against its real
// wheels (repacked from Debian bookworm) for linux/amd64, CPython 3.11.2,
// glibc 2.36, and compares the pins with the fixture's own lock.
func TestFixtureLock(t *testing.T) {
	fx := fixtures(t)
	wheelDir := filepath.Join(fx, "wheels")
	ix := newIndexOfDir(t, wheelDir)
	in, err := lock.ParseInputFile(filepath.Join(fx, "requirements.in"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := lock.ParseFile(filepath.Join(fx, "requirements.lock"))
	if err != nil {
		t.Fatal(err)
	}
	targets := bothTargets(t)[:1]
	res, err := Resolve(context.Background(), Options{Input: in, Source: indexSource(t, ix), Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, res)

	// Every pin carries the hash the fixture lock has for that file.
	for _, p := range res.Packages {
		q, ok := want.Lookup(p.Name)
		if !ok {
			continue
		}
		if q.Version == p.Version && strings.Join(q.Hashes, " ") != strings.Join(p.Hashes, " ") {
			t.Errorf("%s==%s: hashes %v, the fixture lock has %v", p.Name, p.Version, p.Hashes, q.Hashes)
		}
	}

	// pip resolves the written lock against the same wheels to the same set.
	lockPath := filepath.Join(t.TempDir(), "requirements.lock")
	if err := os.WriteFile(lockPath, Render(res), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, pinned := pipWouldInstall(t, wheelDir, lockPath), pinsOn(res, "linux/amd64"); strings.Join(got, " ") != strings.Join(pinned, " ") {
		t.Errorf("pip would install\n  %s\nthe lock pins\n  %s", strings.Join(got, " "), strings.Join(pinned, " "))
	}

	// The full comparison needs wheels whose METADATA lists the Debian
	// dependencies; Debian's own strip them.
	if !hasRequiresDist(t, wheelDir, "pgcli") {
		if os.Getenv("HARDEN_REQUIRE_FIXTURES") == "1" {
			t.Fatalf("%s/pgcli-*.whl lists no Requires-Dist: the fixtures are stale; run make fixtures", wheelDir)
		}
		t.Skipf("%s/pgcli-*.whl lists no Requires-Dist (wheels repacked before the dependencies were restored): resolved only %s; cannot compare with the fixture lock", wheelDir, pins(res))
	}
	// The fixture lock pins three packages a resolution for linux/amd64
	// must not: nothing requires pip and wheel (they have no "# via"), and
	// click requires colorama only on Windows.
	notResolved := map[string]string{
		"pip":      "required by nothing",
		"wheel":    "required by nothing",
		"colorama": `click 8.1.3 requires it only if platform_system == "Windows"`,
	}
	var wantPins []string
	for _, q := range want.Requirements {
		if _, ok := notResolved[q.Key]; !ok {
			wantPins = append(wantPins, q.Key+"=="+q.Version)
		}
	}
	sort.Strings(wantPins)
	got := pinsOn(res, "linux/amd64")
	if missing, extra := diffSets(wantPins, got); len(missing)+len(extra) > 0 {
		t.Errorf("resolved pins differ from the fixture lock:\n  only in the fixture lock: %s\n  only in the resolution:   %s", strings.Join(missing, " "), strings.Join(extra, " "))
	}
}

func hasRequiresDist(t *testing.T, dir, key string) bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fn, err := wheel.ParseFilename(e.Name())
		if err != nil || wheel.NormalizeName(fn.Name) != key {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		md, _, err := wheel.ReadMetadata(bytes.NewReader(b), int64(len(b)), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		return len(md.RequiresDist) > 0 && !allExtras(md.RequiresDist)
	}
	return false
}

// allExtras reports whether every requirement is gated by an extra.
func allExtras(reqs []string) bool {
	for _, r := range reqs {
		if !strings.Contains(r, "extra") {
			return false
		}
	}
	return true
}

// diffSets returns what is only in a and only in b (both sorted).
func diffSets(a, b []string) (onlyA, onlyB []string) {
	in := func(s []string, x string) bool {
		i := sort.SearchStrings(s, x)
		return i < len(s) && s[i] == x
	}
	for _, x := range a {
		if !in(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !in(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}
