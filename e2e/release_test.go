package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// TestRelease runs harden release end to end through the CLI, then the
// verify command the record prints: legacy storage on Debian's
// docker-registry, referrers on the in-process registry with the
// referrers API. It checks the JSON event stream, that the tag and the
// pinned manifest appear only after verification, that a rerun changes
// nothing, and that --dry-run writes nothing.
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	require(t, os.Geteuid() == 0, "the smoke-test stage runs runc, which needs root")
	dist := os.Getenv("HARDEN_TEST_REGISTRY")
	require(t, dist != "", "HARDEN_TEST_REGISTRY (Debian docker-registry on 127.0.0.1) is not set")
	st := sigstoretest.Start(t)
	cache := t.TempDir()
	cases := []struct{ name, reg, storage string }{
		{"legacy on docker-registry", dist, "legacy"},
		{"referrers API on ggcr", registrytest.StartReferrers(t), "referrers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := pushBase(t, fx, tc.reg)
			repo := fmt.Sprintf("%s/e2e/release-%s-%d", tc.reg, tc.storage, time.Now().UnixNano())
			pr := newProject(t, fx, base, repo)
			out := filepath.Join(pr.Dir, "dist")
			tok := filepath.Join(pr.Dir, "token")
			if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
				t.Fatal(err)
			}
			manifest := filepath.Join(pr.Dir, "deploy.yaml")
			const deploy = "apiVersion: v1\nkind: Pod\nmetadata: {name: pgcli}\nspec:\n  containers:\n    - name: pgcli\n      image: \"%s:latest\" # rolled out by harden release\n"
			if err := os.WriteFile(manifest, []byte(fmt.Sprintf(deploy, repo)), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"release", "--config", pr.Config, "--wheel-dir", fx.WheelDir, "--cache-dir", cache, "--out", out,
				"--storage", tc.storage, "--identity-token-file", tok, "--trusted-root", st.TrustedRootPath,
				"--signing-config", st.SigningConfigPath, "--runtime", "runc", "--tag", "rel", "--pin", manifest}

			dry := run(t, []string{epoch}, append(args, "--dry-run")...)
			if dry.code != 0 || !strings.Contains(dry.stderr, "planned") {
				t.Fatalf("dry run: %s", dry)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("--dry-run created %s", out)
			}

			r := run(t, []string{epoch}, append(args, "-o", "json")...)
			if r.code != 0 {
				t.Fatalf("release: %s", r)
			}
			rec := releaseEvents(t, r.stdout)

			// The tag and the pinned manifest name the verified digest.
			tagged, err := remote.Head(mustTag(t, repo+":rel"))
			if err != nil || tagged.Digest.String() != rec.Digest {
				t.Errorf("tag rel: %v %v, want %s", tagged, err, rec.Digest)
			}
			b, err := os.ReadFile(manifest)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf(strings.Replace(deploy, ":latest", "", 1), repo+"@"+rec.Digest); string(b) != want {
				t.Errorf("pinned manifest:\n%s\nwant:\n%s", b, want)
			}

			// The printed verify command passes as printed.
			cmd := strings.Fields(rec.Verification.Command)
			if len(cmd) < 3 || cmd[0] != "harden" || cmd[1] != "verify" {
				t.Fatalf("verify command %q", rec.Verification.Command)
			}
			v := run(t, nil, append(cmd[1:], "-o", "json")...)
			if v.code != 0 {
				t.Fatalf("%s: %s", rec.Verification.Command, v)
			}
			requireSignatureChecks(t, v, 1+len(rec.Platforms))
			if tc.storage == "legacy" != strings.Contains(rec.Verification.Command, "--insecure-ignore-tlog") {
				t.Errorf("%s storage: verify command %q", tc.storage, rec.Verification.Command)
			}
			// Another identity is refused by the same command.
			bad := run(t, nil, append(strings.Fields(strings.Replace(rec.Verification.Command, signerEmail, "mallory@example.com", 1))[1:], "-o", "json")...)
			if bad.code != 1 {
				t.Errorf("verify with another identity: %s", bad)
			}

			// The released image rebuilds from its own provenance, through
			// both entry points; without its wheels it exits 3.
			rb := run(t, nil, append(cmd[1:], "--rebuild")...)
			if rb.code != 0 || !strings.Contains(rb.stdout, "PASS  rebuild") {
				t.Errorf("verify --rebuild: %s", rb)
			}
			rcmd := append([]string{"rebuild"}, cmd[2:]...)
			if r := run(t, nil, rcmd...); r.code != 0 || !strings.Contains(r.stdout, "reproducible: ") || !strings.Contains(r.stdout, rec.Digest) {
				t.Errorf("rebuild: %s", r)
			}
			if r := run(t, nil, append(rcmd, "--wheel-dir", t.TempDir())...); r.code != 3 || !strings.Contains(r.stderr, "input unavailable") {
				t.Errorf("rebuild without wheels: %s", r)
			}

			// A rerun signs nothing and moves nothing.
			again := run(t, []string{epoch}, append(args, "--progress", "plain")...)
			if again.code != 0 {
				t.Fatalf("rerun: %s", again)
			}
			for _, s := range []string{"build", "test", "publish", "sbom", "scan", "sign", "attest"} {
				if !strings.Contains(again.stderr, "<== "+s+" skipped") {
					t.Errorf("rerun: stage %s was not skipped:\n%s", s, again.stderr)
				}
			}
			if got := readRelease(t, out); got.Digest != rec.Digest {
				t.Errorf("rerun released %s, want %s", got.Digest, rec.Digest)
			}
		})
	}
}

// TestReleaseScanGate: findings the gate fails stop the release at the
// scan stage, after the image is published and before anything is signed,
// and the message names them and the way out.
func TestReleaseScanGate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	require(t, os.Geteuid() == 0, "the smoke-test stage runs runc, which needs root")
	st := sigstoretest.Start(t)
	reg := registrytest.StartReferrers(t)
	base := pushBase(t, fx, reg)
	pr := newProject(t, fx, base, reg+"/e2e/gate")
	cfg, err := os.ReadFile(pr.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pr.Config, []byte(strings.Replace(string(cfg), "failOn: critical", "failOn: high", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(pr.Dir, "token")
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(pr.Dir, "dist")
	r := run(t, []string{epoch}, "release", "--config", pr.Config, "--wheel-dir", fx.WheelDir,
		"--out", out, "--identity-token-file", tok, "--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath,
		"--runtime", "runc", "--progress", "plain")
	if r.code != 1 || !strings.Contains(r.stderr, "scan") || !strings.Contains(r.stderr, "GHSA-2m57-hf25-phgg") || !strings.Contains(r.stderr, "OpenVEX") {
		t.Fatalf("release with fixable high findings: %s", r)
	}
	if strings.Contains(r.stderr, "<== sign") {
		t.Errorf("the release signed after the gate failed:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "scan")); !os.IsNotExist(err) {
		t.Errorf("a failed scan left a report behind: %v", err)
	}
	rel := readRelease(t, out)
	d, err := name.NewDigest(rel.Image)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := remote.Referrers(d)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := refs.IndexManifest(); len(m.Manifests) != 0 {
		t.Errorf("%d referrers on an image whose scan failed, want none", len(m.Manifests))
	}
}

type fullRecord struct {
	Digest       string
	Platforms    []struct{ Platform, Digest, Image string }
	Signatures   []json.RawMessage
	Attestations []json.RawMessage
	Verification struct {
		Verified bool
		Command  string
	}
}

// releaseEvents checks the JSON event stream: a start and an end event
// for each of the nine stages, in order, then the result line.
func releaseEvents(t *testing.T, stdout string) fullRecord {
	t.Helper()
	var stages []string
	var result struct {
		Type   string
		Record *fullRecord
		Error  string
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct{ Type, Stage, Status string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		switch ev.Type {
		case "start":
			stages = append(stages, ev.Stage)
		case "end":
			if ev.Status != "done" {
				t.Errorf("stage %s ended %s", ev.Stage, ev.Status)
			}
		case "result":
			if err := json.Unmarshal(sc.Bytes(), &result); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := "lock build test publish sbom scan sign attest verify record"
	if strings.Join(stages, " ") != want {
		t.Errorf("stages %v, want %s", stages, want)
	}
	if result.Record == nil || !result.Record.Verification.Verified || len(result.Record.Signatures) == 0 || len(result.Record.Attestations) == 0 {
		t.Fatalf("result: %+v (%s)", result.Record, result.Error)
	}
	return *result.Record
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}
