package sbom

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/buildrecord"
)

const (
	baseLayer = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	userLayer = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	appLayer  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

func py(name, version string, layers ...string) Package {
	return Package{Name: name, Version: version, Type: pythonType, Layers: layers}
}

func wheel(name, version string) buildrecord.WheelRecord {
	return buildrecord.WheelRecord{Name: name, Version: version}
}

func TestCheckLock(t *testing.T) {
	app := []string{userLayer, appLayer}
	s := &SBOM{Platform: "linux/amd64", Packages: []Package{
		{Name: "python3.11", Version: "3.11.2-6", Type: "deb", Layers: []string{baseLayer}},
		py("Pygments", "2.14.0", appLayer),
		py("prompt_toolkit", "3.0.36", appLayer),
		py("zope.interface", "1.0.0.post1", appLayer),
		// Debian's own Python packages live in the base: allowed.
		py("distro-info", "1.5", baseLayer),
		py("pip", "23.0.1", baseLayer),
	}}
	ok := []buildrecord.WheelRecord{
		wheel("pygments", "2.14.0"),
		wheel("prompt-toolkit", "3.0.36"),
		wheel("zope-interface", "1.0.0-post1"), // PEP 440 spelling variant
	}
	if err := CheckLock(s, ok, app); err != nil {
		t.Fatalf("matching lock: %v", err)
	}

	drifted := []buildrecord.WheelRecord{
		wheel("pygments", "2.15.0"),      // mismatched
		wheel("zope-interface", "1.0.0"), // mismatched: post release differs
		wheel("pip", "23.0.1"),           // only in the base: not installed by harden
		wheel("six", "1.16.0"),           // missing
	}
	err := CheckLock(s, drifted, app)
	var d *DriftError
	if !errors.As(err, &d) {
		t.Fatalf("drifted lock: got %v, want a *DriftError", err)
	}
	wantMissing := []string{"pip 23.0.1", "six 1.16.0"}
	wantMismatched := []string{"pygments: lock 2.15.0, sbom 2.14.0", "zope-interface: lock 1.0.0, sbom 1.0.0.post1"}
	wantUnexpected := []string{"prompt-toolkit 3.0.36"}
	if d.Platform != "linux/amd64" || !slices.Equal(d.Missing, wantMissing) ||
		!slices.Equal(d.Mismatched, wantMismatched) || !slices.Equal(d.Unexpected, wantUnexpected) {
		t.Errorf("drift = %+v\nwant missing %q mismatched %q unexpected %q", d, wantMissing, wantMismatched, wantUnexpected)
	}
	for _, want := range append(append(append([]string{"linux/amd64", "rebuild", "fix requirements.lock"},
		wantMissing...), wantMismatched...), wantUnexpected...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error message lacks %q:\n%s", want, err)
		}
	}
}

func TestCheckLockDuplicateInstall(t *testing.T) {
	s := &SBOM{Platform: "linux/amd64", Packages: []Package{
		py("six", "1.16.0", appLayer),
		py("six", "1.15.0", appLayer),
	}}
	err := CheckLock(s, []buildrecord.WheelRecord{wheel("six", "1.16.0")}, []string{appLayer})
	var d *DriftError
	if !errors.As(err, &d) || !slices.Equal(d.Unexpected, []string{"six 1.15.0"}) || len(d.Missing)+len(d.Mismatched) != 0 {
		t.Errorf("second copy of a locked package: %v", err)
	}
}

func TestCheckLockNeedsAppLayers(t *testing.T) {
	s := &SBOM{Platform: "linux/amd64", Packages: []Package{py("six", "1.16.0", appLayer)}}
	err := CheckLock(s, []buildrecord.WheelRecord{wheel("six", "1.16.0")}, nil)
	if err == nil || !strings.Contains(err.Error(), "rebuild") {
		t.Errorf("no app layers: %v", err)
	}
}
