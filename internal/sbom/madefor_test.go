package sbom

import (
	"testing"

	"github.com/google/uuid"
)

func TestMadeFor(t *testing.T) {
	const name = "127.0.0.1:5000/org/pgcli"
	digest := "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	other := "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	spdx := []byte(`{"spdxVersion":"SPDX-2.3","documentNamespace":"` + identityOf(name, digest, "spdx") + `"}`)
	cdx := []byte(`{"specVersion":"1.6","serialNumber":"` + uuid.NewSHA1(uuid.NameSpaceURL, []byte(identityOf(name, digest, "cyclonedx"))).URN() + `"}`)
	for _, tc := range []struct {
		doc          []byte
		f            Format
		name, digest string
		want         bool
	}{
		{spdx, SPDXJSON, name, digest, true},
		{cdx, CycloneDXJSON, name, digest, true},
		{spdx, SPDXJSON, name, other, false},
		{cdx, CycloneDXJSON, name, other, false},
		{spdx, SPDXJSON, "other/name", digest, false},
		{spdx, CycloneDXJSON, name, digest, false}, // an SPDX file named as CycloneDX
	} {
		got, err := MadeFor(tc.doc, tc.f, tc.name, tc.digest)
		if err != nil || got != tc.want {
			t.Errorf("MadeFor(%s, %s, %s) = %v, %v; want %v", tc.f, tc.name, tc.digest, got, err, tc.want)
		}
	}
	if _, err := MadeFor([]byte("not json"), SPDXJSON, name, digest); err == nil {
		t.Error("a corrupt SBOM was accepted")
	}
}
