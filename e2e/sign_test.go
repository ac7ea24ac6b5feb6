package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/testtools"
)

const signerEmail = "release@example.com"

type attestReport struct {
	Identity struct{ Subject, Issuer string }
	Entries  []struct {
		Subject, Kind, PredicateType, Layout, Status, Referrer string
	}
}

// cosignCLI runs the real cosign CLI (built from the module proxy) with a
// private HOME so it neither reads nor writes the caller's ~/.sigstore.
func cosignCLI(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSignAttestCosignInterop keyless-signs and attests the fixture image
// with harden against the local Sigstore stack, in each storage layout,
// and has the real cosign CLI verify the signatures and the SLSA, SPDX
// and CycloneDX attestations on the index and the platform manifest.
func TestSignAttestCosignInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	dist := os.Getenv("HARDEN_TEST_REGISTRY")
	require(t, dist != "", "HARDEN_TEST_REGISTRY (Debian docker-registry on 127.0.0.1) is not set")
	st := sigstoretest.Start(t)
	cosign := testtools.Path(t, "cosign")
	cache := t.TempDir()

	cases := []struct {
		name, reg, storage string
		// Rekor v2 entries cannot be carried in cosign's legacy layout, so
		// legacy verifiers rely on the RFC 3161 timestamp instead.
		cosignFlags []string
		// oneProcess signs with harden attest --sign instead of harden
		// sign, then harden attest.
		oneProcess bool
	}{
		{"legacy on docker-registry", dist, "legacy", []string{"--insecure-ignore-tlog", "--use-signed-timestamps"}, false},
		{"referrers API on ggcr", registrytest.StartReferrers(t), "referrers", nil, false},
		{"referrers fallback tag on docker-registry", dist, "referrers", nil, false},
		{"attest --sign, both layouts on ggcr", registrytest.StartReferrers(t), "both", []string{"--insecure-ignore-tlog", "--use-signed-timestamps"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := pushBase(t, fx, tc.reg)
			p := buildPublish(t, fx, tc.reg, base, "signed-"+tc.storage, cache)
			pr, out, rel := p.pr, p.out, p.rel
			token := st.Issuer.Token(t, signerEmail)
			tokFile := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
				t.Fatal(err)
			}
			common := []string{"--config", pr.Config, "--out", out, "--storage", tc.storage,
				"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath, "-o", "json"}

			// The token goes on the command line here on purpose: it must
			// still never appear in any output.
			var sign result
			if !tc.oneProcess {
				sign = run(t, nil, append([]string{"sign", "--identity-token", token}, common...)...)
				if sign.code != 0 {
					t.Fatalf("sign: %s", sign)
				}
			}
			if r := run(t, nil, "sbom", "--config", pr.Config, "--out", out); r.code != 0 {
				t.Fatalf("sbom: %s", r)
			}
			attArgs := []string{"attest", "--identity-token-file", tokFile, "--type", "slsaprovenance1", "--type", "spdxjson", "--type", "cyclonedx"}
			if tc.oneProcess {
				attArgs = append(attArgs, "--sign")
			}
			att := run(t, nil, append(attArgs, common...)...)
			if att.code != 0 {
				t.Fatalf("attest: %s", att)
			}
			for _, r := range []result{sign, att} {
				if strings.Contains(r.stdout+r.stderr, token) || strings.Contains(r.stdout+r.stderr, strings.Split(token, ".")[1]) {
					t.Fatal("the identity token appears in harden's output")
				}
			}
			var srep, arep attestReport
			if tc.oneProcess {
				// One report: the signatures, then the attestations.
				for _, e := range decode[attestReport](t, att).Entries {
					if e.Kind == "signature" {
						srep.Entries = append(srep.Entries, e)
					} else {
						arep.Entries = append(arep.Entries, e)
					}
				}
				srep.Identity = decode[attestReport](t, att).Identity
			} else {
				srep, arep = decode[attestReport](t, sign), decode[attestReport](t, att)
			}
			layouts := 1
			if tc.storage == "both" {
				layouts = 2
			}
			if srep.Identity.Subject != signerEmail || srep.Identity.Issuer != st.Issuer.URL() {
				t.Errorf("identity %+v", srep.Identity)
			}
			subjects := 1 + len(rel.Platforms)
			if n := countStatus(srep, "attached"); n != layouts*subjects {
				t.Errorf("sign attached %d entries, want %d", n, layouts*subjects)
			}
			if want := layouts * (subjects + 2*2*len(rel.Platforms)); countStatus(arep, "attached") != want {
				t.Errorf("attest attached %d entries, want %d", countStatus(arep, "attached"), want)
			}

			// Re-running changes nothing.
			again := run(t, nil, append([]string{"sign", "--identity-token-file", tokFile}, common...)...)
			if again.code != 0 || countStatus(decode[attestReport](t, again), "attached") != 0 {
				t.Fatalf("second sign attached again: %s", again)
			}

			verify := append([]string{"--certificate-identity", signerEmail, "--certificate-oidc-issuer", st.Issuer.URL(),
				"--trusted-root", st.TrustedRootPath, "--allow-http-registry", "--insecure-ignore-sct"}, tc.cosignFlags...)
			images := []string{rel.Image}
			for _, p := range rel.Platforms {
				images = append(images, p.Image)
			}
			for _, img := range images {
				if out, err := cosignCLI(t, cosign, append(append([]string{"verify"}, verify...), img)...); err != nil {
					t.Fatalf("cosign verify %s: %v\n%s", img, err, out)
				}
				for _, typ := range []string{"slsaprovenance1", "spdxjson", "cyclonedx"} {
					out, err := cosignCLI(t, cosign, append(append([]string{"verify-attestation", "--type", typ}, verify...), img)...)
					if err != nil {
						t.Fatalf("cosign verify-attestation --type %s %s: %v\n%s", typ, img, err, out)
					}
				}
			}
			t.Logf("cosign verify and verify-attestation (slsaprovenance1, spdxjson, cyclonedx) accepted %d manifests in %s storage", len(images), tc.storage)

			// And cosign still rejects the wrong identity.
			bad := append([]string{"verify", "--certificate-identity", "mallory@example.com"}, verify[2:]...)
			if out, err := cosignCLI(t, cosign, append(bad, rel.Image)...); err == nil {
				t.Fatalf("cosign accepted a wrong identity:\n%s", out)
			}
		})
	}
}

func countStatus(r attestReport, status string) int {
	n := 0
	for _, e := range r.Entries {
		if e.Status == status {
			n++
		}
	}
	return n
}

type releaseRecord struct {
	Image     string
	Digest    string
	Platforms []struct{ Platform, Digest, Image string }
}

func readRelease(t *testing.T, out string) releaseRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "release.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r releaseRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestKeySigningCosignInterop: harden keygen writes a cosign-format key
// pair; harden sign --key signs with it (through the local log and TSA,
// and air-gapped with no service at all); cosign verify --key accepts
// both, and harden verify --key agrees.
func TestKeySigningCosignInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	st := sigstoretest.Start(t)
	cosign := testtools.Path(t, "cosign")
	reg := registrytest.StartReferrers(t)
	keys := filepath.Join(t.TempDir(), "release")
	pw := []string{"COSIGN_PASSWORD=correct horse"}
	if r := run(t, pw, "keygen", "--output-key-prefix", keys); r.code != 0 {
		t.Fatalf("keygen: %s", r)
	}
	if fi, err := os.Stat(keys + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v", fi, err)
	}
	base := pushBase(t, fx, reg)
	for _, tc := range []struct {
		name       string
		signFlags  []string
		cosignMore []string
	}{
		{"with log and timestamp", []string{"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath}, []string{"--trusted-root", st.TrustedRootPath}},
		{"air-gapped", nil, []string{"--insecure-ignore-tlog"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := buildPublish(t, fx, reg, base, "keyed", "")
			pr, out, rel := p.pr, p.out, p.rel
			sign := run(t, pw, append([]string{"sign", "--config", pr.Config, "--out", out, "--key", keys + ".key"}, tc.signFlags...)...)
			if sign.code != 0 {
				t.Fatalf("sign --key: %s", sign)
			}
			if strings.Contains(sign.stdout+sign.stderr, "correct horse") {
				t.Fatal("the key password appears in harden's output")
			}
			args := append([]string{"verify", "--key", keys + ".pub", "--allow-http-registry"}, tc.cosignMore...)
			if out, err := cosignCLI(t, cosign, append(args, rel.Image)...); err != nil {
				t.Fatalf("cosign verify --key: %v\n%s", err, out)
			}
			hv := []string{"verify", rel.Image, "--key", keys + ".pub", "-o", "json"}
			if tc.signFlags != nil {
				hv = append(hv, "--trusted-root", st.TrustedRootPath)
			} else {
				hv = append(hv, "--insecure-ignore-tlog")
			}
			requireSignatureChecks(t, run(t, nil, hv...), 1+len(rel.Platforms))
		})
	}
}

// published is a fixture image built and published with the CLI.
type published struct {
	pr  *project
	out string
	rel releaseRecord
}

// buildPublish builds the fixture project into a fresh repository
// reg/e2e/<kind>-<n> and publishes it by digest.
func buildPublish(t *testing.T, fx *fixture.Fixture, reg, base, kind, cache string) published {
	t.Helper()
	repo := fmt.Sprintf("%s/e2e/%s-%d", reg, kind, time.Now().UnixNano())
	pr := newProject(t, fx, base, repo)
	out := filepath.Join(pr.Dir, "dist")
	build := []string{"build", "--config", pr.Config, "--wheel-dir", fx.WheelDir, "--out", out}
	if cache != "" {
		build = append(build, "--cache-dir", cache)
	}
	if r := run(t, []string{epoch}, build...); r.code != 0 {
		t.Fatalf("build: %s", r)
	}
	if r := run(t, nil, "publish", "--config", pr.Config, "--out", out); r.code != 0 {
		t.Fatalf("publish: %s", r)
	}
	return published{pr: pr, out: out, rel: readRelease(t, out)}
}

// requireSignatureChecks asserts that a `harden verify -o json` report
// has want signature checks and that all of them passed.
func requireSignatureChecks(t *testing.T, r result, want int) {
	t.Helper()
	var rep struct {
		Checks []struct {
			Name   string
			Passed bool
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("harden verify: %v\n%s", err, r)
	}
	n := 0
	for _, c := range rep.Checks {
		if c.Name == "signature" {
			if !c.Passed {
				t.Fatalf("harden verify: a signature check failed: %s", r.stdout)
			}
			n++
		}
	}
	if n != want {
		t.Fatalf("harden verify ran %d signature checks, want %d: %s", n, want, r.stdout)
	}
}
