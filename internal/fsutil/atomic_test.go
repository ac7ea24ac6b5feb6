package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "release.json")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read back %q %v", b, err)
		}
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	// A directory in the way makes the rename fail; the old state stays.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(blocked, []byte("x"), 0o644); err == nil {
		t.Error("write over a non-empty directory succeeded")
	}
	ents, _ = os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "sub" && e.Name() != "blocked" {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestReplaceDir(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "dist")
	for _, marker := range []string{"first", "second"} {
		tmp, err := os.MkdirTemp(dir, ".dist.tmp-*")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, marker), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := ReplaceDir(tmp, dst); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dst)
	if len(ents) != 1 || ents[0].Name() != "second" {
		t.Errorf("dst holds %v, want only the second build", ents)
	}
	if all, _ := os.ReadDir(dir); len(all) != 1 {
		t.Errorf("leftovers beside dst: %v", all)
	}
}
