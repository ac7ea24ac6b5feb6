package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/registry/registrytest"
)

// TestLintPin: harden lint flags tags in a manifest and a Dockerfile with
// file and line; harden pin resolves them through the registry, changes
// nothing else, and leaves every file untouched when one lookup fails.
func TestLintPin(t *testing.T) {
	reg := registrytest.Start(t, nil)
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(reg + "/org/pgcli:4.3.0-r1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	pinned := reg + "/org/pgcli@" + d.String()
	other := reg + "/org/base@sha256:" + strings.Repeat("a", 64)

	dir := t.TempDir()
	manifest := filepath.Join(dir, "pod.yaml")
	dockerfile := filepath.Join(dir, "Dockerfile")
	m := "kind: Pod\nspec:\n  containers:\n    - name: pgcli\n      image: '" + tag.String() + "'  # keep me\n"
	df := "FROM " + other + " AS base\nFROM " + tag.String() + "\nCOPY --from=base /x /x\n"
	write := func() {
		if err := os.WriteFile(manifest, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dockerfile, []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write()

	lint := run(t, nil, "lint", manifest, dockerfile)
	if lint.code != 1 || !strings.Contains(lint.stdout, manifest+":5:") || !strings.Contains(lint.stdout, dockerfile+":2:") ||
		strings.Contains(lint.stdout, dockerfile+":1:") || !strings.Contains(lint.stderr, "harden pin") {
		t.Fatalf("lint: %s", lint)
	}

	// A reference that does not resolve: nothing is written anywhere.
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("image: "+reg+"/org/missing:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := run(t, nil, "pin", manifest, filepath.Join(dir, "bad.yaml"))
	if bad.code == 0 || !strings.Contains(bad.stderr, "no file was changed") {
		t.Fatalf("pin with an unresolvable tag: %s", bad)
	}
	if b, _ := os.ReadFile(manifest); string(b) != m {
		t.Fatalf("a failed pin changed %s:\n%s", manifest, b)
	}

	if r := run(t, nil, "pin", manifest, dockerfile); r.code != 0 {
		t.Fatalf("pin: %s", r)
	}
	if b, _ := os.ReadFile(manifest); string(b) != strings.Replace(m, tag.String(), pinned, 1) {
		t.Errorf("pinned manifest:\n%s", b)
	}
	if b, _ := os.ReadFile(dockerfile); string(b) != strings.Replace(df, tag.String(), pinned, 1) {
		t.Errorf("pinned Dockerfile:\n%s", b)
	}
	if r := run(t, nil, "lint", manifest, dockerfile); r.code != 0 {
		t.Errorf("lint after pin: %s", r)
	}
}
