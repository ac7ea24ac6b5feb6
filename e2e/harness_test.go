// Package e2e drives the harden binary end to end against real parts: the
// Debian-built Python base, real wheels, go-containerregistry's in-process
// registry, Debian's docker-registry, runc and skopeo.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/scan/vulndb"
)

// require skips with reason, or fails when HARDEN_REQUIRE_E2E=1 (as in
// CI), so the core end-to-end tests can never silently not run there.
func require(t *testing.T, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("HARDEN_REQUIRE_E2E") == "1" {
		t.Fatalf("end-to-end prerequisite missing (HARDEN_REQUIRE_E2E=1): %s", reason)
	}
	t.Skip("skipping: " + reason + " (run `make test` to set it up)")
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// hardenBin builds the CLI once per test process.
func hardenBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "harden-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "harden")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/harden-dev/harden/cmd/harden").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// result is one harden invocation.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run executes harden with args and extra environment.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command(hardenBin(t), args...), append([]string{"DOCKER_CONFIG=" + t.TempDir()}, env...))
}

// runAsNobody executes harden as uid/gid 65534 (the caller must be root
// and must make the files involved accessible).
func runAsNobody(t *testing.T, env []string, args ...string) result {
	t.Helper()
	bin := hardenBin(t)
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return runCmd(t, cmd, env)
}

func runCmd(t *testing.T, cmd *exec.Cmd, env []string) result {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run harden: %v", err)
	}
	return result{code: code, stdout: so.String(), stderr: se.String()}
}

// registries returns the in-process registry and, when configured, the
// Debian docker-registry, by host:port.
func registries(t *testing.T) map[string]string {
	t.Helper()
	regs := map[string]string{"ggcr": registrytest.Start(t, nil)}
	ext := os.Getenv("HARDEN_TEST_REGISTRY")
	require(t, ext != "", "HARDEN_TEST_REGISTRY (Debian docker-registry on 127.0.0.1) is not set")
	regs["distribution"] = ext
	return regs
}

// pushBase copies the fixture base index to reg and returns repo@digest.
func pushBase(t *testing.T, fx *fixture.Fixture, reg string) string {
	t.Helper()
	return buildtest.PushBase(t, fx, reg)
}

// project is a harden.yaml for the fixture in its own directory.
type project struct {
	Dir, Config         string
	Base, Repository    string
	Lock, Requirements  string
	Platforms           []string
	PgcliVersion, Extra string
}

var configTmpl = template.Must(template.New("c").Parse(`name: pgcli
version: {{.PgcliVersion}}-r1
repository: {{.Repository}}
base: {{.Base}}
platforms: [{{range $i, $p := .Platforms}}{{if $i}}, {{end}}{{$p}}{{end}}]
requirements: {{.Requirements}}
lock: {{.Lock}}
user: {name: pgcli, uid: 10001, gid: 10001, home: /home/pgcli}
entrypoint: [pgcli]
env:
  LANG: C.UTF-8
labels:
  org.opencontainers.image.title: pgcli
source:
  url: https://example.test/pgcli-container
  revision: 0123456789abcdef0123456789abcdef01234567
smoke:
  - name: pgcli --version
    args: [--version]
    expect: {exitCode: 0, stdout: "Version: {{.PgcliVersion}}"}
  - name: runs as uid 10001
    entrypoint: [id, -u]
    expect: {stdout: "10001"}
# The fixture's pins have fixable high findings in this database; the
# gate here stops only on critical ones.
scan: {db: vulndb, failOn: critical}
{{.Extra}}`))

// newProject writes a harden.yaml (and copies of the lock and
// requirements.in, so cases can edit them) into a fresh directory.
func newProject(t *testing.T, fx *fixture.Fixture, base, repo string) *project {
	t.Helper()
	dir := t.TempDir()
	p := &project{Dir: dir, Config: filepath.Join(dir, "harden.yaml"), Base: base, Repository: repo,
		Lock: "requirements.lock", Requirements: "requirements.in", Platforms: fx.Platforms, PgcliVersion: fx.PgcliVersion}
	copyFile(t, fx.Lock, filepath.Join(dir, "requirements.lock"))
	copyFile(t, fx.RequirementsIn, filepath.Join(dir, "requirements.in"))
	if err := vulndb.Write(filepath.Join(dir, "vulndb"), vulndb.Fixture(), time.Now()); err != nil {
		t.Fatal(err)
	}
	p.write(t)
	return p
}

func (p *project) write(t *testing.T) {
	t.Helper()
	var b bytes.Buffer
	if err := configTmpl.Execute(&b, p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Config, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildRecord is the part of `harden build -o json` the tests read.
type buildRecord struct {
	Digest    string `json:"digest"`
	Platforms []struct {
		Platform string `json:"platform"`
		Digest   string `json:"digest"`
		Wheels   []struct {
			Name, Version, Filename, SHA256 string
		} `json:"wheels"`
	} `json:"platforms"`
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("decode JSON output: %v\n%s", err, r)
	}
	return v
}

// manifestExists reports whether reg has ref (repo@digest or repo:tag).
func manifestExists(t *testing.T, ref string) bool {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(r)
	return err == nil
}

// repoTags lists a repository's tags; a missing repository has none.
func repoTags(t *testing.T, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r)
	if err != nil {
		return nil
	}
	return tags
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
