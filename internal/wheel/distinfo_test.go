package wheel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestReadMetadataFixtures(t *testing.T) {
	dir := os.Getenv("HARDEN_FIXTURES")
	if dir == "" {
		if os.Getenv("HARDEN_REQUIRE_FIXTURES") == "1" {
			t.Fatal("HARDEN_REQUIRE_FIXTURES=1 but HARDEN_FIXTURES is not set")
		}
		t.Skip("HARDEN_FIXTURES is not set: run make fixtures and export HARDEN_FIXTURES=$PWD/.cache/fixtures")
	}
	p := filepath.Join(dir, "wheels", "pgcli-3.5.0-py3-none-any.whl")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	md, raw, err := ReadMetadata(bytes.NewReader(b), int64(len(b)), filepath.Base(p))
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "pgcli" || md.Version != "3.5.0" || len(raw) == 0 {
		t.Fatalf("got %s %s (%d bytes)", md.Name, md.Version, len(raw))
	}
	want := map[string]bool{}
	for _, r := range md.RequiresDist {
		want[r] = true
	}
	if !want["pgspecial>=2"] || !want["sqlparse>=0.3"] {
		t.Errorf("Requires-Dist lacks pgspecial>=2 or sqlparse>=0.3: %q", md.RequiresDist)
	}
	if _, _, err := ReadMetadata(bytes.NewReader(b), int64(len(b)), "other-1.0-py3-none-any.whl"); err == nil {
		t.Error("a wheel whose .dist-info names another project was accepted")
	}
}
