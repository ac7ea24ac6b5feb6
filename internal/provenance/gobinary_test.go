package provenance

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func goBuildParams() GoBuild {
	return GoBuild{
		Package: "./cmd/harden", Version: "v1.2.0",
		Flags:     []string{"-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid= -X main.stampedVersion=v1.2.0"},
		Env:       map[string]string{"CGO_ENABLED": "0"},
		GoVersion: "go1.26.8",
		Source:    GoSource{URL: "https://token:secret@github.com/harden-dev/harden.git", Revision: "0123456789abcdef0123456789abcdef01234567"},
		Binaries: []GoBinary{
			{Name: "harden_v1.2.0_linux_amd64", Platform: "linux/amd64", SHA256: strings.Repeat("a", 64)},
			{Name: "harden_v1.2.0_darwin_arm64", Platform: "darwin/arm64", SHA256: strings.Repeat("b", 64)},
		},
		StartedOn:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		FinishedOn: time.Date(2025, 1, 2, 3, 9, 5, 0, time.UTC),
		Builder: Builder{ID: LocalBuilderID, Version: map[string]string{"harden": "v1.2.0"},
			Internal: map[string]any{"ci": false, "goos": "linux", "goarch": "amd64", "goVersion": "go1.26.8"}},
	}
}

// TestGoStatementGolden: the same build gives the same bytes, those of
// testdata/go-statement.json (the example in docs/buildtype.md):
// subjects sorted by name, credentials gone from the source URL.
func TestGoStatementGolden(t *testing.T) {
	st, err := GoStatement(goBuildParams())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := GoStatement(goBuildParams())
	if b, _ := Marshal(again); !bytes.Equal(got, b) {
		t.Fatal("GoStatement is not deterministic")
	}
	if bytes.Contains(got, []byte("secret")) {
		t.Fatalf("credentials in the statement:\n%s", got)
	}
	golden := filepath.Join("testdata", "go-statement.json")
	if os.Getenv("HARDEN_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v; create it with HARDEN_UPDATE_GOLDEN=1 go test ./internal/provenance/", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with HARDEN_UPDATE_GOLDEN=1 if the change is intended):\n%s", golden, got)
	}
}

func TestGoStatementDirtySource(t *testing.T) {
	p := goBuildParams()
	p.Source.Dirty = true
	st, err := GoStatement(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Marshal(st)
	// The revision is recorded, but pins nothing: no gitCommit digest.
	if !bytes.Contains(b, []byte(`"dirty": true`)) || bytes.Contains(b, []byte("gitCommit")) {
		t.Fatalf("dirty source:\n%s", b)
	}
}

func TestGoStatementRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*GoBuild)
		want string
	}{
		{"no binaries", func(b *GoBuild) { b.Binaries = nil }, "provenance: the Go build made no binaries"},
		{"same name twice", func(b *GoBuild) { b.Binaries[1].Name = b.Binaries[0].Name }, "provenance: two binaries are named harden_v1.2.0_linux_amd64"},
		{"bad digest", func(b *GoBuild) { b.Binaries[0].SHA256 = "ABC" }, `provenance: binary harden_v1.2.0_linux_amd64 has sha256 "ABC", not 64 lowercase hex digits`},
		{"bad platform", func(b *GoBuild) { b.Binaries[0].Platform = "linux" }, `provenance: binary harden_v1.2.0_linux_amd64 has platform "linux", want os/arch`},
		{"no builder", func(b *GoBuild) { b.Builder.ID = "" }, "provenance: the builder has no id; detect it with DetectBuilder"},
		{"no version", func(b *GoBuild) { b.Version = "" }, "provenance: a Go build needs its package, version and Go version"},
		{"backwards times", func(b *GoBuild) { b.FinishedOn = b.StartedOn.Add(-time.Second) },
			"provenance: build times 2025-01-02 03:04:05 +0000 UTC to 2025-01-02 03:04:04 +0000 UTC are not a time span"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := goBuildParams()
			c.edit(&p)
			if _, err := GoStatement(p); err == nil || err.Error() != c.want {
				t.Fatalf("got %v, want %s", err, c.want)
			}
		})
	}
}
