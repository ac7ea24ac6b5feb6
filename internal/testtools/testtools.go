// Package testtools hands tests the executables that go.mod declares as
// tool dependencies, building them on first use.
//
// Lookup order for a tool called name:
//  1. $HARDEN_TOOLS_DIR/<name>, when it exists and is executable;
//  2. <repo>/.cache/tools/<name>, when it is newer than go.mod and go.sum;
//  3. otherwise `go build -o <repo>/.cache/tools/<name> <package>` in the
//     module root, serialised across test processes by a file lock.
//
// `make` prebuilds into .cache/tools with the same names, so tests usually
// take path 2.
package testtools

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvToolsDir names a directory of prebuilt tools that takes precedence
// over building.
const EnvToolsDir = "HARDEN_TOOLS_DIR"

// toolPackage maps a tool's short name to its go.mod tool directive.
func toolPackage(name string) (string, bool) {
	switch name {
	case "cosign":
		return "github.com/sigstore/cosign/v3/cmd/cosign", true
	case "rekor-server":
		return "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix", true
	case "crane":
		return "github.com/google/go-containerregistry/cmd/crane", true
	case "syft":
		return "github.com/anchore/syft/cmd/syft", true
	case "grype":
		return "github.com/anchore/grype/cmd/grype", true
	case "maxrss":
		return "github.com/harden-dev/harden/tools/maxrss", true
	}
	return "", false
}

// Path returns an executable for the go.mod tool called name ("cosign",
// "rekor-server", the benchmarks' "crane", "syft" and "grype", or
// harden's own "maxrss"). It fails the test when the tool is unknown or
// cannot be built; it never skips.
func Path(t testing.TB, name string) string {
	t.Helper()
	p, err := lookup(t.Context(), name)
	if err != nil {
		t.Fatalf("testtools: %v", err)
	}
	return p
}

func lookup(ctx context.Context, name string) (string, error) {
	pkg, ok := toolPackage(name)
	if !ok {
		return "", fmt.Errorf("unknown tool %q: want cosign, rekor-server, crane, syft, grype or maxrss", name)
	}
	if dir := os.Getenv(EnvToolsDir); dir != "" {
		p, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("resolve $%s: %w", EnvToolsDir, err)
		}
		if isExecutable(p) {
			return p, nil
		}
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	return ensureBuilt(ctx, root, name, pkg)
}

// moduleRoot is the directory holding the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	goBin, err := goCommand()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w%s", err, stderrOf(err))
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// ensureBuilt returns <root>/.cache/tools/<name>, building pkg into it
// unless a fresh binary is already there.
func ensureBuilt(ctx context.Context, root, name, pkg string) (string, error) {
	dir := filepath.Join(root, ".cache", "tools")
	bin := filepath.Join(dir, name)
	stamp, err := depsModTime(root)
	if err != nil {
		return "", err
	}
	if isFresh(bin, stamp) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create tool cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("lock tool cache %s: %w", dir, err)
	}
	defer unlock()
	// Another process may have built it while this one waited.
	if isFresh(bin, stamp) {
		return bin, nil
	}

	goBin, err := goCommand()
	if err != nil {
		return "", err
	}
	// Build inside a private directory and rename into place, so a reader
	// never sees a half-written binary.
	tmpDir, err := os.MkdirTemp(dir, ".build-"+name+"-*")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, name)
	start := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", tmp, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -o %s %s (in %s) failed after %s: %w\n%s",
			bin, pkg, root, time.Since(start).Round(time.Millisecond), err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("install %s: %w", bin, err)
	}
	return bin, nil
}

// depsModTime is the newest modification time of go.mod and go.sum: any
// dependency change touches at least one of them.
func depsModTime(root string) (time.Time, error) {
	var newest time.Time
	for _, f := range []string{"go.mod", "go.sum"} {
		fi, err := os.Stat(filepath.Join(root, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("stat %s: %w", f, err)
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	return newest, nil
}

// isFresh reports whether bin is an executable built after stamp.
func isFresh(bin string, stamp time.Time) bool {
	fi, err := os.Stat(bin)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 && fi.ModTime().After(stamp)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// goCommand finds the go command: on PATH, else under $GOROOT.
func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		p := filepath.Join(goroot, "bin", "go")
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("the go command is not on PATH (needed to build test tools)")
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// PeakRSS runs cmd under the maxrss tool and returns its peak resident
// memory in bytes (the largest of the process and the children it waited
// for) and cmd's error. Measuring from the test process would be wrong:
// a child's Maxrss starts at its parent's high-water mark.
func PeakRSS(t testing.TB, cmd *exec.Cmd) (int64, error) {
	t.Helper()
	maxrss := Path(t, "maxrss")
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	cmd.Args = append([]string{maxrss, rssFile}, cmd.Args...)
	cmd.Path, cmd.Err = maxrss, nil
	err := cmd.Run()
	raw, rerr := os.ReadFile(rssFile)
	if rerr != nil {
		return 0, errors.Join(err, fmt.Errorf("no peak RSS recorded: %w", rerr))
	}
	kib, perr := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if perr != nil {
		return 0, errors.Join(err, fmt.Errorf("peak RSS %q: %w", raw, perr))
	}
	return kib << 10, err
}
