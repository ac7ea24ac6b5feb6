package lockdiff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
)

var update = flag.Bool("update", false, "rewrite the expected.txt and expected.json goldens")

// TestGolden diffs each testdata/<case>/old.lock against new.lock (with
// requirements.in when the case has one) and compares the text and JSON
// renderings with the goldens.
func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"versions": true, "hashes": true, "newcomers": true, "markers": true, "identical": true, "provenance": true}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		delete(want, c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", c.Name())
			oldLock, err := lock.ParseFile(filepath.Join(dir, "old.lock"))
			if err != nil {
				t.Fatal(err)
			}
			newLock, err := lock.ParseFile(filepath.Join(dir, "new.lock"))
			if err != nil {
				t.Fatal(err)
			}
			var in *lock.Input
			if in, err = lock.ParseInputFile(filepath.Join(dir, "requirements.in")); errors.Is(err, fs.ErrNotExist) {
				in = nil
			} else if err != nil {
				t.Fatal(err)
			}
			r := Diff(oldLock, newLock, in)
			var text bytes.Buffer
			WriteText(&text, r)
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			js = append(js, '\n')
			golden(t, filepath.Join(dir, "expected.txt"), text.Bytes())
			golden(t, filepath.Join(dir, "expected.json"), js)

			var back Report
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if back.Risky() != r.Risky() || back.Summary != r.Summary {
				t.Errorf("JSON round trip changed the report: %+v", back.Summary)
			}
		})
	}
	for c := range want {
		t.Errorf("testdata/%s is missing", c)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it; review the diff):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestRiskyAndSummary pins what each case must report, independent of
// the goldens, so a careless -update cannot hide a lost red flag.
func TestRiskyAndSummary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sum   Summary
		flags []string // kind package
	}{
		{"versions", Summary{Added: 2, Removed: 1, Upgraded: 2, Downgraded: 1, Changed: 1, RedFlags: 1}, []string{"new-transitive pgspecial"}},
		{"hashes", Summary{RedFlags: 3}, []string{"hashes-changed cryptography", "hashes-changed numpy", "coverage-lost cffi"}},
		{"newcomers", Summary{Added: 4, RedFlags: 3}, []string{"new-transitive certifi", "new-transitive charset-normalizer", "new-transitive mystery"}},
		{"markers", Summary{Upgraded: 1, RedFlags: 5}, []string{"coverage-lost colorama", "coverage-lost setproctitle", "marker-changed colorama", "marker-changed setproctitle", "marker-changed tomli"}},
		{"identical", Summary{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			oldLock, err := lock.ParseFile(filepath.Join(dir, "old.lock"))
			if err != nil {
				t.Fatal(err)
			}
			newLock, err := lock.ParseFile(filepath.Join(dir, "new.lock"))
			if err != nil {
				t.Fatal(err)
			}
			in, err := lock.ParseInputFile(filepath.Join(dir, "requirements.in"))
			if err != nil {
				in = nil
			}
			r := Diff(oldLock, newLock, in)
			if r.Summary != tc.sum {
				t.Errorf("summary = %+v, want %+v", r.Summary, tc.sum)
			}
			var flags []string
			for _, f := range r.RedFlags {
				flags = append(flags, f.Kind+" "+f.Package)
			}
			if strings.Join(flags, "\n") != strings.Join(tc.flags, "\n") {
				t.Errorf("red flags:\n%s\nwant:\n%s", strings.Join(flags, "\n"), strings.Join(tc.flags, "\n"))
			}
			if r.Risky() != (len(tc.flags) > 0) {
				t.Errorf("Risky() = %t", r.Risky())
			}
		})
	}
}

func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunGit commits a lock in a real repository, changes it in the
// working copy and diffs against HEAD, with the lock named by harden.yaml.
func TestRunGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed; the --git form needs it")
	}
	repo := t.TempDir()
	gitRun(t, repo, "init", "-q")
	img := filepath.Join(repo, "image")
	copyFile(t, "testdata/hashes/old.lock", filepath.Join(img, "requirements.lock"))
	copyFile(t, "testdata/hashes/requirements.in", filepath.Join(img, "requirements.in"))
	cfg := "name: demo\nversion: 1.0.0\nrepository: registry.example.com/demo\n" +
		"base: docker.io/library/python@sha256:" + strings.Repeat("0", 64) + "\n" +
		"entrypoint: [demo]\n"
	if err := os.WriteFile(filepath.Join(img, "harden.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, repo, "add", ".")
	gitRun(t, repo, "commit", "-q", "-m", "lock")
	copyFile(t, "testdata/hashes/new.lock", filepath.Join(img, "requirements.lock"))

	ctx := context.Background()
	r, err := Run(ctx, Request{Rev: "HEAD", Config: filepath.Join(img, "harden.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	oldLock, err := lock.ParseFile("testdata/hashes/old.lock")
	if err != nil {
		t.Fatal(err)
	}
	newLock, err := lock.ParseFile("testdata/hashes/new.lock")
	if err != nil {
		t.Fatal(err)
	}
	in, err := lock.ParseInputFile("testdata/hashes/requirements.in")
	if err != nil {
		t.Fatal(err)
	}
	want := Diff(oldLock, newLock, in)
	lockPath := filepath.Join(img, "requirements.lock")
	want.Old, want.New = lockPath+"@HEAD", lockPath
	gotJSON, _ := json.Marshal(r)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("git diff:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}

	// An explicit LOCK, relative to the working directory, works the same.
	t.Chdir(img)
	r2, err := Run(ctx, Request{Rev: "HEAD", Lock: "requirements.lock"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Summary != want.Summary || r2.Old != "requirements.lock@HEAD" {
		t.Errorf("explicit lock: old %q, summary %+v; want summary %+v", r2.Old, r2.Summary, want.Summary)
	}

	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"unknown revision", Request{Rev: "no-such-branch", Lock: "requirements.lock"}, `git revision "no-such-branch" does not exist in `},
		{"option as revision", Request{Rev: "--output=/tmp/x", Lock: "requirements.lock"}, `git revision "--output=/tmp/x": name a commit, branch or tag`},
		{"path missing at revision", Request{Rev: "HEAD", Lock: "other.lock"}, "image/other.lock does not exist at revision HEAD"},
		{"no lock and no config", Request{Rev: "HEAD", Config: "absent.yaml"}, "no lock to compare with HEAD: absent.yaml does not exist"},
		{"one file", Request{Old: "requirements.lock"}, "name two lock files (OLD NEW)"},
		{"missing file", Request{Old: "requirements.lock", New: "nope.lock"}, "lock file nope.lock does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(ctx, tc.req)
			if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (exit %d), want an input error containing %q", err, errs.ExitCode(err), tc.want)
			}
		})
	}
}

func TestRunOutsideGit(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "testdata/identical/old.lock", filepath.Join(dir, "requirements.lock"))
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	_, err := Run(context.Background(), Request{Rev: "HEAD", Lock: filepath.Join(dir, "requirements.lock")})
	if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "is not inside a git checkout") {
		t.Errorf("err = %v, want an input error saying the lock is not in a git checkout", err)
	}
}
