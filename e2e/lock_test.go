package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/fixture"
)

// TestLockCommands runs harden lock, lock --check and lock diff through the
// CLI on the fixture project: the lock resolved from the fixture wheels
// checks clean, a lock missing a dependency fails the check naming it and
// who needs it, and the diff between them reports the removal.
func TestLockCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	pr := newProject(t, fx, "127.0.0.1:1/library/python@sha256:"+strings.Repeat("0", 64), "127.0.0.1:1/e2e/lock")
	offline := []string{"--config", pr.Config, "--wheel-dir", fx.WheelDir, "--python-version", "3.11.2", "--glibc", "2.36", "--cache-dir", t.TempDir()}
	lockPath := filepath.Join(pr.Dir, "requirements.lock")

	r := run(t, nil, append([]string{"lock", "--upgrade"}, offline...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+lockPath+": 22 packages for linux/amd64") {
		t.Fatalf("lock: %s", r)
	}
	locked, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(locked), "pgcli==3.5.0 \\\n    --hash=sha256:") || !strings.Contains(string(locked), "# via -r requirements.in") {
		t.Errorf("lock lacks the pgcli pin with its hash and via:\n%s", locked)
	}
	if r := run(t, nil, append([]string{"lock", "--check"}, offline...)...); r.code != 0 || !strings.Contains(r.stdout, "22 pins consistent") || strings.Contains(r.stdout, "warning") {
		t.Errorf("lock --check on a fresh lock: %s", r)
	}
	// A second lock changes nothing.
	if r := run(t, nil, append([]string{"lock"}, offline...)...); r.code != 0 || !strings.Contains(r.stdout, ", 0 changed") {
		t.Errorf("relock: %s", r)
	}

	broken := removePin(string(locked), "sqlparse")
	brokenPath := filepath.Join(pr.Dir, "broken.lock")
	if err := os.WriteFile(brokenPath, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, append([]string{"lock", "--check", "--output-file", brokenPath}, offline...)...)
	if r.code != 1 || !strings.Contains(r.stdout, "pgcli 3.5.0 requires sqlparse>=0.3 but the lock pins no sqlparse for linux/amd64") ||
		!strings.Contains(r.stderr, "run harden lock") {
		t.Errorf("lock --check without sqlparse: %s", r)
	}

	r = run(t, nil, "lock", "diff", "--config", pr.Config, lockPath, brokenPath)
	if r.code != 0 || !strings.Contains(r.stdout, "removed:\n  sqlparse 0.4.2") || !strings.Contains(r.stdout, "0 added, 1 removed") {
		t.Errorf("lock diff: %s", r)
	}
	if r := run(t, nil, "lock", "diff", "--config", pr.Config, "-o", "json", lockPath, brokenPath); r.code != 0 || !strings.Contains(r.stdout, `"removed"`) {
		t.Errorf("lock diff -o json: %s", r)
	}
}

// removePin drops one package's block (its pin, hashes and comments) from
// a lock harden wrote.
func removePin(lockText, name string) string {
	var out []string
	skip := false
	for _, line := range strings.SplitAfter(lockText, "\n") {
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") {
			skip = strings.HasPrefix(line, name+"==")
		}
		if !skip {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
