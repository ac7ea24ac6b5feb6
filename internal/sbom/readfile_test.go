package sbom

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	const name, plat = "127.0.0.1:5000/org/pgcli", "linux/amd64"
	digest := "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	other := "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	spdx := []byte(`{"spdxVersion":"SPDX-2.3","documentNamespace":"` + identityOf(name, digest, "spdx") + `"}`)
	cdx := []byte(`{"specVersion":"1.6","serialNumber":"` + uuid.NewSHA1(uuid.NameSpaceURL, []byte(identityOf(name, digest, "cyclonedx"))).URN() + `"}`)
	if err := os.WriteFile(filepath.Join(dir, FileName(plat, SPDXJSON)), spdx, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName(plat, CycloneDXJSON)), cdx, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f      Format
		digest string
		want   []byte
	}{
		{SPDXJSON, digest, spdx},
		{CycloneDXJSON, digest, cdx},
		{SPDXJSON, other, nil},
		{CycloneDXJSON, other, nil},
	} {
		got, err := ReadFile(dir, name, plat, tc.digest, tc.f)
		if err != nil || string(got) != string(tc.want) {
			t.Errorf("ReadFile(%s, %s) = %q, %v; want %q", tc.f, tc.digest, got, err, tc.want)
		}
	}
	if got, err := ReadFile(dir, "other/name", plat, digest, SPDXJSON); got != nil || err != nil {
		t.Errorf("another image's name: %q, %v", got, err)
	}
	if got, err := ReadFile(dir, name, "linux/arm64", digest, SPDXJSON); got != nil || err != nil {
		t.Errorf("absent file: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName(plat, SPDXJSON)), []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(dir, name, plat, digest, SPDXJSON); err == nil {
		t.Error("a corrupt SBOM file was accepted")
	}
}
