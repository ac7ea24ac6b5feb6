package resolve

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/lock"
)

const hostPython = "/usr/bin/python3"

// pipWouldInstall runs the host pip 23's resolver over lockPath against
// the wheels in findLinks as CPython 3.11 on manylinux_2_36_x86_64, with
// hashes required and dependencies checked, and returns what it would
// install as sorted "name==version".
func pipWouldInstall(t *testing.T, findLinks, lockPath string) []string {
	t.Helper()
	out, err := runPip(t, findLinks, lockPath)
	if err != nil {
		t.Fatalf("pip refused the lock: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "Would install ")
		if !ok {
			continue
		}
		var got []string
		for _, nv := range strings.Fields(rest) {
			i := strings.LastIndex(nv, "-")
			got = append(got, lock.NormalizeName(nv[:i])+"=="+nv[i+1:])
		}
		sort.Strings(got)
		return got
	}
	t.Fatalf("pip printed no \"Would install\" line:\n%s", out)
	return nil
}

func runPip(t *testing.T, findLinks, lockPath string) (string, error) {
	t.Helper()
	if err := exec.Command(hostPython, "-m", "pip", "--version").Run(); err != nil {
		if os.Getenv("HARDEN_REQUIRE_PIP") == "1" {
			t.Fatalf("no pip to cross-check with (HARDEN_REQUIRE_PIP=1; make setup installs python3-pip): %v", err)
		}
		t.Skipf("no pip to cross-check with: %s -m pip --version: %v (install python3-pip)", hostPython, err)
	}
	args := []string{"-m", "pip", "install",
		"--no-index", "--find-links", findLinks,
		"--require-hashes", "--only-binary=:all:",
		"--python-version", "3.11", "--implementation", "cp",
		"--dry-run", "--ignore-installed", "--target", filepath.Join(t.TempDir(), "target"),
		"--disable-pip-version-check", "--no-cache-dir", "--no-input",
		"-r", lockPath}
	// pip 23.0 takes --platform literally: it does not widen
	// manylinux_2_36 to the older manylinux tags the target also runs, so
	// every platform tag is passed.
	seen := map[string]bool{}
	for _, tag := range testTarget(t, "linux/amd64", "x86_64").Wheel.Tags() {
		if tag.Platform != "any" && !seen[tag.Platform] {
			seen[tag.Platform] = true
			args = append(args, "--platform", tag.Platform)
		}
	}
	cmd := exec.Command(hostPython, args...)
	// Only this test's settings: no PIP_* from the environment, no config.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PIP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PIP_CONFIG_FILE=/dev/null")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// pinsOn lists the pins of res needed on platform, sorted.
func pinsOn(res *Result, platform string) []string {
	var out []string
	for _, p := range res.Packages {
		for _, pl := range p.Platforms {
			if pl == platform {
				out = append(out, p.Name+"=="+p.Version)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestPipAcceptsLock(t *testing.T) {
	dir := t.TempDir()
	ix := newIndex(t, false, dir, universe...)
	res, err := Resolve(context.Background(), Options{Input: input(t, universeIn), Source: indexSource(t, ix), Targets: bothTargets(t)})
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(t.TempDir(), "requirements.lock")
	if err := os.WriteFile(lockPath, Render(res), 0o644); err != nil {
		t.Fatal(err)
	}
	got, want := pipWouldInstall(t, dir, lockPath), pinsOn(res, "linux/amd64")
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pip would install\n  %s\nthe lock pins for linux/amd64\n  %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	// pip checks dependencies: without the pin of lib, which app needs,
	// it refuses the lock.
	var cut strings.Builder
	skip := false
	for _, line := range strings.SplitAfter(string(Render(res)), "\n") {
		if strings.HasPrefix(line, "lib==") {
			skip = true
		} else if !strings.HasPrefix(line, " ") {
			skip = false
		}
		if !skip {
			cut.WriteString(line)
		}
	}
	if err := os.WriteFile(lockPath, []byte(cut.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPip(t, dir, lockPath); err == nil || !strings.Contains(out, "lib") {
		t.Errorf("pip accepted a lock without lib: %v\n%s", err, out)
	}
}
