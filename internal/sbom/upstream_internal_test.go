package sbom

import (
	"testing"

	"github.com/anchore/syft/syft/file"
	"github.com/anchore/syft/syft/pkg"
	syftsbom "github.com/anchore/syft/syft/sbom"

	"github.com/harden-dev/harden/internal/buildrecord"
)

// upstreamByID matches only Python packages in harden's layers, by
// normalised name and PEP 440 version, and only wheels with a record.
func TestUpstreamByID(t *testing.T) {
	mk := func(name, version string, typ pkg.Type, layer string) pkg.Package {
		p := pkg.Package{Name: name, Version: version, Type: typ,
			Locations: file.NewLocationSet(file.NewLocationFromCoordinates(file.Coordinates{RealPath: "/site/" + name, FileSystemID: layer}))}
		p.SetID()
		return p
	}
	app, base := "sha256:app", "sha256:base"
	click := mk("Click", "8.1.3", pkg.PythonPkg, app)
	baseSix := mk("six", "1.16.0", pkg.PythonPkg, base)
	otherVer := mk("sqlparse", "0.5.0", pkg.PythonPkg, app)
	deb := mk("tabulate", "0.8.9", pkg.DebPkg, app)
	plain := mk("wcwidth", "0.2.5", pkg.PythonPkg, app)
	doc := &syftsbom.SBOM{Artifacts: syftsbom.Artifacts{Packages: pkg.NewCollection(click, baseSix, otherVer, deb, plain)}}
	up := &buildrecord.Upstream{}
	s := &SBOM{doc: doc}
	s.withLock([]buildrecord.WheelRecord{
		{Name: "click", Version: "8.1.3.0", Upstream: up},
		{Name: "six", Version: "1.16.0", Upstream: up},
		{Name: "sqlparse", Version: "0.4.2", Upstream: up},
		{Name: "tabulate", Version: "0.8.9", Upstream: up},
		{Name: "wcwidth", Version: "0.2.5"},
	}, []string{app})
	got := s.upstreamByID()
	if len(got) != 1 || got[string(click.ID())].Name != "click" {
		t.Fatalf("upstreamByID = %+v, want only click's package %s", got, click.ID())
	}
}

func TestSyftIDOf(t *testing.T) {
	for in, want := range map[string]string{
		"pkg:pypi/click@8.1.3?package-id=0123abcd":          "0123abcd",
		"pkg:deb/debian/x@1?arch=amd64&package-id=ff00&z=1": "ff00",
		"deadbeef": "deadbeef",
	} {
		if got := syftIDOf(in); got != want {
			t.Errorf("syftIDOf(%q) = %q, want %q", in, got, want)
		}
	}
}
