package fsutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
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

func TestReplaceFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "deploy.yaml")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink("deploy.yaml", link); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceFile(link, []byte("new\r\n")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, []byte("new\r\n")) {
		t.Fatalf("content = %q, %v", got, err)
	}
	info, err := os.Stat(p)
	if err != nil || info.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v, %v; want 0640", info.Mode(), err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v %v", fi.Mode(), err)
	}

	fresh := filepath.Join(dir, "new.yaml")
	if err := ReplaceFile(fresh, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(fresh); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("new file mode = %v, %v; want 0644", info.Mode(), err)
	}
	if err := ReplaceFile(dir, []byte("x")); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("directory: want input error, got %v", err)
	}
}
