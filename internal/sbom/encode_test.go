package sbom

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	cyclonedx "github.com/CycloneDX/cyclonedx-go"
)

// The generated list must match the schema of the cyclonedx-go in go.mod;
// after an upgrade, run go generate.
func TestCDXLicenseIDsMatchSchema(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(moduleDir(t, "github.com/CycloneDX/cyclonedx-go"), "schema", "spdx.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct{ Enum []string }
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if len(schema.Enum) != cdxLicenseIDCount {
		t.Errorf("schema lists %d IDs, cdx_licenses.go %d: run go generate ./internal/sbom", len(schema.Enum), cdxLicenseIDCount)
	}
	for _, id := range schema.Enum {
		if !cdxLicenseID(id) {
			t.Errorf("schema ID %q missing from cdx_licenses.go: run go generate ./internal/sbom", id)
		}
	}
	for _, id := range []string{"", "mit", "LicenseRef-foo", "not-a-license"} {
		if cdxLicenseID(id) {
			t.Errorf("%q accepted as a license ID", id)
		}
	}
}

func TestDemoteLicenseIDs(t *testing.T) {
	known := &cyclonedx.License{ID: "MIT"}
	unknown := &cyclonedx.License{ID: "Kazlib"} // newer than the schema's list
	named := &cyclonedx.License{Name: "public-domain"}
	nested := &cyclonedx.License{ID: "SMAIL-GPL"}
	components := []cyclonedx.Component{{
		Name:     "libcom-err2",
		Licenses: &cyclonedx.Licenses{{License: known}, {License: unknown}, {License: named}},
		Components: &[]cyclonedx.Component{{
			Name: "inner", Licenses: &cyclonedx.Licenses{{License: nested}},
		}},
	}, {
		Name: "expression", Licenses: &cyclonedx.Licenses{{Expression: "MIT OR Apache-2.0"}},
	}}
	demoteLicenseIDs(&components)
	if *known != (cyclonedx.License{ID: "MIT"}) {
		t.Errorf("known ID changed: %+v", known)
	}
	if *unknown != (cyclonedx.License{Name: "Kazlib"}) || *nested != (cyclonedx.License{Name: "SMAIL-GPL"}) {
		t.Errorf("unknown IDs not turned into names: %+v %+v", unknown, nested)
	}
	if *named != (cyclonedx.License{Name: "public-domain"}) {
		t.Errorf("named license changed: %+v", named)
	}
	if (*components[1].Licenses)[0].Expression != "MIT OR Apache-2.0" {
		t.Error("expression changed")
	}
}
