package testtools

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newModule writes a throwaway module with one command that prints msg.
func newModule(t *testing.T, msg string) (root, pkg string) {
	t.Helper()
	root = t.TempDir()
	write(t, filepath.Join(root, "go.mod"), "module example.test/tools\n\ngo 1.26\n")
	setMessage(t, root, msg)
	return root, "example.test/tools/cmd/hello"
}

func setMessage(t *testing.T, root, msg string) {
	t.Helper()
	write(t, filepath.Join(root, "cmd", "hello", "main.go"),
		"package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\""+msg+"\") }\n")
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	return string(out)
}

func TestEnsureBuiltBuildsReusesAndRebuilds(t *testing.T) {
	root, pkg := newModule(t, "v1")
	ctx := t.Context()

	bin, err := ensureBuilt(ctx, root, "hello", pkg)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, ".cache", "tools", "hello"); bin != want {
		t.Fatalf("path = %s, want %s", bin, want)
	}
	if got := run(t, bin); got != "v1" {
		t.Fatalf("first build prints %q, want v1", got)
	}

	// A fresh binary is reused even though the source moved on.
	setMessage(t, root, "v2")
	if _, err := ensureBuilt(ctx, root, "hello", pkg); err != nil {
		t.Fatal(err)
	}
	if got := run(t, bin); got != "v1" {
		t.Fatalf("fresh binary was rebuilt: prints %q, want v1", got)
	}

	// A binary older than go.mod is rebuilt.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(root, "go.mod"), old.Add(time.Minute), old.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureBuilt(ctx, root, "hello", pkg); err != nil {
		t.Fatal(err)
	}
	if got := run(t, bin); got != "v2" {
		t.Fatalf("stale binary was not rebuilt: prints %q, want v2", got)
	}

	// No temporary build directories are left behind.
	entries, err := os.ReadDir(filepath.Dir(bin))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".build-") {
			t.Errorf("leftover build directory %s", e.Name())
		}
	}
}

func TestEnsureBuiltConcurrentCallers(t *testing.T) {
	root, pkg := newModule(t, "once")
	const n = 4
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			paths[i], errs[i] = ensureBuilt(t.Context(), root, "hello", pkg)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if paths[i] != paths[0] {
			t.Fatalf("caller %d got %s, caller 0 got %s", i, paths[i], paths[0])
		}
	}
	if got := run(t, paths[0]); got != "once" {
		t.Fatalf("binary prints %q, want once", got)
	}
}

func TestEnsureBuiltReportsCompilerErrors(t *testing.T) {
	root, pkg := newModule(t, "x")
	write(t, filepath.Join(root, "cmd", "hello", "main.go"), "package main\n\nfunc main() { undefinedThing() }\n")
	_, err := ensureBuilt(t.Context(), root, "hello", pkg)
	if err == nil {
		t.Fatal("broken package built without error")
	}
	for _, want := range []string{"go build", pkg, "undefinedThing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, statErr := os.Stat(filepath.Join(root, ".cache", "tools", "hello")); statErr == nil {
		t.Error("a failed build left a binary in place")
	}
}

func TestLookupPrefersToolsDir(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "cosign")
	write(t, exe, "#!/bin/sh\n")
	if err := os.Chmod(exe, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvToolsDir, dir)
	got, err := lookup(t.Context(), "cosign")
	if err != nil {
		t.Fatal(err)
	}
	if got != exe {
		t.Fatalf("lookup = %s, want %s", got, exe)
	}
}

func TestIsExecutable(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	write(t, plain, "")
	if isExecutable(plain) {
		t.Error("non-executable file reported executable")
	}
	if isExecutable(dir) {
		t.Error("directory reported executable")
	}
	if isExecutable(filepath.Join(dir, "missing")) {
		t.Error("missing file reported executable")
	}
	if err := os.Chmod(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	if !isExecutable(plain) {
		t.Error("executable file not reported executable")
	}
}

func TestLookupUnknownTool(t *testing.T) {
	_, err := lookup(t.Context(), "no-such-tool")
	if err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Fatalf("err = %v, want unknown tool", err)
	}
}

// TestPathRekorServer builds (or reuses) the real tool the Sigstore test
// stack runs.
func TestPathRekorServer(t *testing.T) {
	bin := Path(t, "rekor-server")
	if out := run(t, bin, "serve", "--help"); !strings.Contains(out, "--storage-dir") {
		t.Fatalf("rekor-server serve --help lacks --storage-dir:\n%s", out)
	}
}
