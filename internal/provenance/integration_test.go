package provenance

import (
	"path/filepath"
	"testing"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/buildtest"
)

// TestFixtureBuild attests the real fixture build, read back from its
// build.json as harden attest will.
func TestFixtureBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fixture image")
	}
	res := buildtest.Build(t, buildtest.Options{})
	rec, err := buildrecord.ReadRecord(filepath.Join(res.Out, "build.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DetectBuilder(lookup(nil), "v0.0.0-test")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Statement(Params{Record: rec, Repository: res.Repo.String(), Builder: b})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	st, prov, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}

	if err := CheckSubject(st, res.Release.Digest); err != nil {
		t.Errorf("the published index: %v", err)
	}
	for _, pl := range rec.Platforms {
		if err := CheckSubject(st, pl.Digest); err != nil {
			t.Errorf("%s manifest: %v", pl.Platform, err)
		}
	}
	if n, want := len(st.GetSubject()), 1+len(rec.Platforms); n != want {
		t.Errorf("%d subjects, want %d", n, want)
	}

	deps := map[string]string{} // sha256 → name
	for _, d := range prov.GetBuildDefinition().GetResolvedDependencies() {
		if h := d.GetDigest()["sha256"]; h != "" {
			deps[h] = d.GetName()
		}
	}
	wheels := 0
	for _, pl := range rec.Platforms {
		for _, w := range pl.Wheels {
			wheels++
			if got, ok := deps[w.SHA256]; !ok || got != w.Name {
				t.Errorf("%s: wheel %s (sha256 %s) is not in resolvedDependencies (found %q)", pl.Platform, w.Filename, w.SHA256, got)
			}
		}
	}
	if wheels == 0 {
		t.Fatal("the fixture build installed no wheels")
	}
	for _, d := range []struct{ name, digest string }{{"base-image", rec.Base.Digest}, {"requirements.lock", rec.Lock.Digest}} {
		if got := deps[d.digest[len("sha256:"):]]; got != d.name {
			t.Errorf("resolvedDependencies has no %s with %s (found %q)", d.name, d.digest, got)
		}
	}
	ext := prov.GetBuildDefinition().GetExternalParameters().AsMap()
	if ext["name"] != rec.Name || ext["version"] != rec.Version || ext["lockDigest"] != rec.Lock.Digest {
		t.Errorf("externalParameters %v do not match the record", ext)
	}
}
