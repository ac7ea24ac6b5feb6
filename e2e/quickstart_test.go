package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/scan/vulndb"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// shBlock is a fenced sh block of a Markdown page.
var shBlock = regexp.MustCompile("(?ms)^```sh\n(.*?)^```\n")

// TestQuickstart runs docs/quickstart.md as written: its first sh block
// holds the settings, which point here at the local registry, the fixture
// base and the local Sigstore; every later block runs unchanged, in one
// shell, from an empty directory. What the page leaves to the environment
// (the index, the Sigstore trust files, the token, the runtime) comes from
// HARDEN_ variables, as the page says it can.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	require(t, os.Geteuid() == 0, "the smoke-test stage runs runc, which needs root")
	reg := os.Getenv("HARDEN_TEST_REGISTRY")
	require(t, reg != "", "HARDEN_TEST_REGISTRY (Debian docker-registry on 127.0.0.1) is not set")
	for _, tool := range []string{"bash", "git", "jq"} {
		_, err := exec.LookPath(tool)
		require(t, err == nil, tool+" is not installed (scripts/setup.sh installs it)")
	}
	page, err := os.ReadFile("../docs/quickstart.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shBlock.FindAllStringSubmatch(string(page), -1)
	if len(blocks) < 4 {
		t.Fatalf("docs/quickstart.md has %d sh blocks; want the settings and at least three steps", len(blocks))
	}
	settings, steps := blocks[0][1], blocks[1:]
	for _, name := range []string{"APP_REQUIREMENT", "APP", "BASE", "REPO", "SIGNER", "ISSUER"} {
		if !regexp.MustCompile(`(?m)^` + name + `=`).MatchString(settings) {
			t.Fatalf("the settings block sets no %s:\n%s", name, settings)
		}
	}

	st := sigstoretest.Start(t)
	pinned := pushBase(t, fx, reg)
	tag := strings.TrimSuffix(pinned, "@"+fx.BaseIndexDigest) + ":3.11-bookworm-fixture"
	repo := fmt.Sprintf("%s/e2e/quickstart-%d", reg, time.Now().UnixNano())
	work := t.TempDir()
	// The fixture's advisories less sqlparse's: the sqlparse PyPI serves
	// today has none open, the fixture's old pin has.
	var advisories []vulndb.Advisory
	for _, a := range vulndb.Fixture() {
		if a.Package != "sqlparse" {
			advisories = append(advisories, a)
		}
	}
	db := filepath.Join(work, "vulndb")
	if err := vulndb.Write(db, advisories, time.Now()); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(work, "token")
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	script := "set -euo pipefail\nset -x\n" + fmt.Sprintf("APP_REQUIREMENT=sqlparse\nAPP=sqlformat\nBASE=%s\nREPO=%s\nSIGNER=%s\nISSUER=%s\n",
		tag, repo, signerEmail, st.Issuer.URL())
	for _, b := range steps {
		script += b[1]
	}
	home := filepath.Join(work, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = home
	env := []string{}
	for _, kv := range os.Environ() {
		// Nothing of the test process's own harden settings leaks in.
		if !strings.HasPrefix(kv, "HARDEN_") && !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"PATH="+filepath.Dir(hardenBin(t))+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home, "DOCKER_CONFIG="+filepath.Join(work, "docker"),
		"GIT_AUTHOR_NAME=Quick Start", "GIT_AUTHOR_EMAIL=qs@example.test", "GIT_COMMITTER_NAME=Quick Start", "GIT_COMMITTER_EMAIL=qs@example.test",
		"HARDEN_WHEEL_DIR="+fx.WheelDir, "HARDEN_CACHE_DIR="+filepath.Join(work, "cache"), "HARDEN_DB="+db,
		"HARDEN_TRUSTED_ROOT="+st.TrustedRootPath, "HARDEN_SIGNING_CONFIG="+st.SigningConfigPath,
		"HARDEN_IDENTITY_TOKEN_FILE="+tok, "HARDEN_RUNTIME=runc", "HARDEN_PROGRESS=plain")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docs/quickstart.md failed: %v\n%s", err, out)
	}
	text := string(out)
	rec := readRelease(t, filepath.Join(home, "sqlformat", "dist"))
	if !strings.HasPrefix(rec.Image, repo+"@sha256:") {
		t.Errorf("released %s, want %s@sha256:…", rec.Image, repo)
	}
	for _, want := range []string{"wrote    harden.yaml", "wrote    requirements.lock", "would run 2 smoke tests", "checks passed with runc", "verified"} {
		if !strings.Contains(text, want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, text)
		}
	}
}
