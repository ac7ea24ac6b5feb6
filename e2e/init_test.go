package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/scan/vulndb"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// TestInitToRelease: for two apps of the fixture wheels, harden init
// writes a project (base pinned from its tag, lock from the wheels), and
// that project, found as ./harden.yaml without --config, builds, passes
// its smoke tests, releases keyless and verifies with the command the
// record prints.
func TestInitToRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	require(t, os.Geteuid() == 0, "the smoke-test stage runs runc, which needs root")
	reg := os.Getenv("HARDEN_TEST_REGISTRY")
	require(t, reg != "", "HARDEN_TEST_REGISTRY (Debian docker-registry on 127.0.0.1) is not set")
	st := sigstoretest.Start(t)
	pinned := pushBase(t, fx, reg)
	// pushBase tags the fixture base; init pins that tag again.
	tag := strings.TrimSuffix(pinned, "@"+fx.BaseIndexDigest) + ":3.11-bookworm-fixture"
	cache := t.TempDir()
	if r := runIn(t, t.TempDir(), "build"); r.code != 2 || !strings.Contains(r.stderr, `no harden.yaml found`) || !strings.Contains(r.stderr, `run "harden init REQUIREMENT"`) {
		t.Errorf("build with no harden.yaml around: %s", r)
	}

	for _, app := range []struct{ requirement, entrypoint string }{
		{"sqlparse", "sqlformat"},
		{"pygments", "pygmentize"},
	} {
		t.Run(app.requirement, func(t *testing.T) {
			dir := t.TempDir()
			repo := fmt.Sprintf("%s/e2e/init-%s-%d", reg, app.requirement, time.Now().UnixNano())
			version := wheelVersion(t, fx, app.requirement)

			r := run(t, nil, "init", app.requirement, "--entrypoint", app.entrypoint, "--base", tag, "--wheel-dir", fx.WheelDir,
				"--repository", repo, "--signer-identity", signerEmail, "--signer-issuer", st.Issuer.URL(), "--dir", dir, "--cache-dir", cache)
			if r.code != 0 {
				t.Fatalf("init: %s", r)
			}
			for _, want := range []string{"wrote    harden.yaml\n", "wrote    requirements.lock\n", "wrote    .github/workflows/release.yml\n",
				"base     " + tag + "@" + fx.BaseIndexDigest + " (pinned from " + tag + ")\n",
				"next:\n  cd " + dir + " && harden release --dry-run --wheel-dir " + fx.WheelDir + "\n"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("init output lacks %q:\n%s", want, r)
				}
			}
			c, err := config.Load(filepath.Join(dir, "harden.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Version != version+"-r1" || c.Base != tag+"@"+fx.BaseIndexDigest {
				t.Errorf("harden.yaml: version %s, base %s", c.Version, c.Base)
			}
			if again := run(t, nil, "init", app.requirement, "--dir", dir); again.code != 2 || !strings.Contains(again.stderr, "--force") {
				t.Errorf("init over an existing project: %s", again)
			}

			// The fixture's offline vulnerability database; its old pins
			// have fixable high findings, so this gate stops on critical.
			if err := vulndb.Write(filepath.Join(dir, "vulndb"), vulndb.Fixture(), time.Now()); err != nil {
				t.Fatal(err)
			}
			appendFile(t, filepath.Join(dir, "harden.yaml"), "scan: {db: vulndb, failOn: critical}\n")

			if r := runIn(t, dir, "build", "--wheel-dir", fx.WheelDir, "--cache-dir", cache); r.code != 0 {
				t.Fatalf("build: %s", r)
			}
			if r := runIn(t, dir, "test", "--runtime", "runc"); r.code != 0 || !strings.Contains(r.stdout+r.stderr, app.entrypoint+" --help") {
				t.Fatalf("test: %s", r)
			}
			tok := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
				t.Fatal(err)
			}
			rel := runIn(t, dir, "release", "--wheel-dir", fx.WheelDir, "--cache-dir", cache, "--identity-token-file", tok,
				"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath, "--runtime", "runc", "--progress", "plain")
			if rel.code != 0 {
				t.Fatalf("release: %s", rel)
			}
			rec := readRelease(t, filepath.Join(dir, "dist"))
			if !strings.HasPrefix(rec.Image, repo+"@sha256:") {
				t.Errorf("released %s, want %s@sha256:…", rec.Image, repo)
			}
			cmd := strings.Fields(verifyCommand(t, rel.stdout))
			v := run(t, nil, append(cmd[1:], "-o", "json")...)
			if v.code != 0 {
				t.Fatalf("%s: %s", strings.Join(cmd, " "), v)
			}
			requireSignatureChecks(t, v, 2)
		})
	}
}

// runIn runs harden in dir, where it finds ./harden.yaml by itself.
func runIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(hardenBin(t), args...)
	cmd.Dir = dir
	return runCmd(t, cmd, []string{epoch, "DOCKER_CONFIG=" + t.TempDir(), "HARDEN_CONFIG="})
}

// verifyCommand is the harden verify line the release prints.
func verifyCommand(t *testing.T, stdout string) string {
	t.Helper()
	_, after, ok := strings.Cut(stdout, "\nverify:\n")
	if !ok {
		t.Fatalf("the release printed no verify command:\n%s", stdout)
	}
	line, _, _ := strings.Cut(after, "\n")
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "harden verify ") {
		t.Fatalf("verify command %q", line)
	}
	return line
}

// wheelVersion is the version of a fixture wheel.
func wheelVersion(t *testing.T, fx *fixture.Fixture, name string) string {
	t.Helper()
	for _, w := range fx.Wheels {
		if w.Name == name {
			return w.Version
		}
	}
	t.Fatalf("no %s wheel in the fixture", name)
	return ""
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
