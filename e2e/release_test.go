package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/testtools"
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
				"--signing-config", st.SigningConfigPath, "--runtime", "runc", "--tag", "rel", "--version-tag", "--pin", manifest}

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
			for _, tag := range []string{"rel", fx.PgcliVersion + "-r1"} {
				tagged, err := remote.Head(mustTag(t, repo+":"+tag))
				if err != nil || tagged.Digest.String() != rec.Digest {
					t.Errorf("tag %s: %v %v, want %s", tag, tagged, err, rec.Digest)
				}
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

			checkVulnAttestation(t, rec, tc.storage, st, cmd)
			checkRescan(t, rec, pr.Config, out, []string{"--storage", tc.storage, "--identity-token-file", tok,
				"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath}, cmd)

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

			// Another image with the same base and lock would take the same
			// version: the release verifies it but will not move the tag.
			if tc.storage == "referrers" {
				pr.Extra = "workingDir: /tmp\n"
				pr.write(t)
				moved := run(t, []string{epoch}, append(args, "--out", filepath.Join(pr.Dir, "dist2"))...)
				if moved.code != 1 || !strings.Contains(moved.stderr, "a version never moves") {
					t.Errorf("release of a changed image under an unchanged version: %s", moved)
				}
				if tagged, err := remote.Head(mustTag(t, repo+":"+fx.PgcliVersion+"-r1")); err != nil || tagged.Digest.String() != rec.Digest {
					t.Errorf("the version tag moved: %v %v, want %s", tagged, err, rec.Digest)
				}
			}
		})
	}
}

// TestReleaseScanGate: findings the gate fails stop the release at the
// scan stage, before the image is pushed, and the message names them and
// the way out.
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
	// The scan runs on the local build: nothing reached the registry.
	if _, err := os.Stat(filepath.Join(out, "release.json")); !os.IsNotExist(err) {
		t.Errorf("a publish record after a failed gate: %v", err)
	}
	if !strings.Contains(r.stderr, "nothing was pushed to "+reg+"/e2e/gate") {
		t.Errorf("the stop does not say nothing was pushed:\n%s", r.stderr)
	}
	repo, err := name.NewRepository(reg + "/e2e/gate")
	if err != nil {
		t.Fatal(err)
	}
	if tags, err := remote.List(repo); err == nil && len(tags) > 0 {
		t.Errorf("tags after a failed gate: %v", tags)
	}
}

type fullRecord struct {
	Image        string
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
	want := "preflight lock build test sbom scan publish sign attest verify record"
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

// checkVulnAttestation: the release's signed scan satisfies the printed
// verify command (its --max-severity matches the gate), fails a stricter
// severity or a shorter maximum age with the reason, reaches Rego as
// input.vulnerabilities, and verifies with cosign's own CLI.
func checkVulnAttestation(t *testing.T, rec fullRecord, storage string, st *sigstoretest.Stack, verifyCmd []string) {
	t.Helper()
	if !strings.Contains(strings.Join(verifyCmd, " "), "--max-severity high") {
		t.Errorf("verify command %q does not require the scan the gate (fail on critical) passed", strings.Join(verifyCmd, " "))
	}
	base := slices.Clip(verifyCmd[1 : len(verifyCmd)-2]) // without "--max-severity high"
	in := filepath.Join(t.TempDir(), "input.json")
	strict := run(t, nil, append(base, "--max-severity", "medium", "--policy-input", in)...)
	if strict.code != 1 || !strings.Contains(strict.stdout, "GHSA-2m57-hf25-phgg (sqlparse 0.4.2, High)") {
		t.Errorf("verify --max-severity medium: %s", strict)
	}
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var input struct {
		Vulnerabilities []struct {
			Platform string
			Digest   string
			Counts   map[string]int
			Findings []struct{ ID, Package string }
		}
	}
	if err := json.Unmarshal(b, &input); err != nil {
		t.Fatal(err)
	}
	if len(input.Vulnerabilities) != len(rec.Platforms) {
		t.Fatalf("policy input has %d scans, want one per platform (%d)", len(input.Vulnerabilities), len(rec.Platforms))
	}
	for i, v := range input.Vulnerabilities {
		if v.Digest != rec.Platforms[i].Digest || v.Counts["High"] == 0 || len(v.Findings) == 0 {
			t.Errorf("input.vulnerabilities[%d] = %+v", i, v)
		}
	}
	stale := run(t, nil, append(base, "--max-scan-age", "1ns")...)
	if stale.code != 1 || !strings.Contains(stale.stdout, "older than --max-scan-age 1ns") {
		t.Errorf("verify --max-scan-age 1ns: %s", stale)
	}

	cosign := testtools.Path(t, "cosign")
	args := []string{"verify-attestation", "--type", "vuln", "--certificate-identity", signerEmail, "--certificate-oidc-issuer", st.Issuer.URL(),
		"--trusted-root", st.TrustedRootPath, "--allow-http-registry", "--insecure-ignore-sct"}
	if storage == "legacy" {
		args = append(args, "--insecure-ignore-tlog", "--use-signed-timestamps")
	}
	for _, p := range rec.Platforms {
		out, err := cosignCLI(t, cosign, append(args, p.Image)...)
		if err != nil {
			t.Fatalf("cosign verify-attestation --type vuln %s: %v\n%s", p.Image, err, out)
		}
		if !vulnStatementFor(out, p.Digest) {
			t.Errorf("cosign verify-attestation --type vuln printed no vuln statement about %s:\n%s", p.Digest, out)
		}
	}
}

// checkRescan: a released image is scanned again into the release's output
// directory and the new report attested; verify then sees the new scan.
func checkRescan(t *testing.T, rec fullRecord, config, out string, signArgs, verifyCmd []string) {
	t.Helper()
	before := time.Now().UTC().Truncate(time.Second)
	if r := run(t, nil, "scan", rec.Image, "--config", config, "--out", out); r.code != 0 || !strings.Contains(r.stderr, "vuln.json") {
		t.Fatalf("rescan: %s", r)
	}
	if r := run(t, nil, append([]string{"attest", "--config", config, "--out", out, "--type", "vuln"}, signArgs...)...); r.code != 0 {
		t.Fatalf("attest the rescan: %s", r)
	}
	in := filepath.Join(t.TempDir(), "input.json")
	if r := run(t, nil, append(slices.Clip(verifyCmd[1:]), "--max-scan-age", "1h", "--policy-input", in)...); r.code != 0 {
		t.Fatalf("verify after the rescan: %s", r)
	}
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var input struct {
		Vulnerabilities []struct{ Platform, ScannedAt string }
	}
	if err := json.Unmarshal(b, &input); err != nil {
		t.Fatal(err)
	}
	for _, v := range input.Vulnerabilities {
		at, err := time.Parse(time.RFC3339, v.ScannedAt)
		if err != nil || at.Before(before) {
			t.Errorf("%s: verify used the scan of %s, not the rescan (after %s)", v.Platform, v.ScannedAt, before.Format(time.RFC3339))
		}
	}
}

// vulnStatementFor reports whether cosign's verify-attestation output (one
// JSON envelope per line, base64 payload) holds a vuln statement about digest.
func vulnStatementFor(out, digest string) bool {
	for _, line := range strings.Split(out, "\n") {
		var env struct{ Payload string }
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &env) != nil {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			continue
		}
		var st struct {
			PredicateType string
			Subject       []struct{ Digest map[string]string }
		}
		if json.Unmarshal(raw, &st) != nil || st.PredicateType != "https://cosign.sigstore.dev/attestation/vuln/v1" {
			continue
		}
		for _, s := range st.Subject {
			if "sha256:"+s.Digest["sha256"] == digest {
				return true
			}
		}
	}
	return false
}
