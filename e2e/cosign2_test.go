package e2e

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/testtools"
)

// cosign2Version is the cosign v2 release the compatibility tests run,
// built from the module proxy into $HARDEN_TOOLS_DIR/cosign2 (make engines).
const cosign2Version = "v2.6.5"

// cosign2Bin returns the cosign v2 CLI, or skips (fails under
// HARDEN_REQUIRE_E2E=1) when it has not been built.
func cosign2Bin(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(testtools.EnvToolsDir)
	if dir == "" {
		dir = filepath.Join("..", ".cache", "tools")
	}
	p, err := filepath.Abs(filepath.Join(dir, "cosign2"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	require(t, err == nil && fi.Mode()&0o111 != 0, "no cosign "+cosign2Version+" CLI at "+p+
		"; build it with: bash scripts/build-engine.sh github.com/sigstore/cosign/v2 "+cosign2Version+" cmd/cosign "+p)
	return p
}

// signAttested builds and publishes the fixture image to reg, then signs
// and attests it (SLSA provenance, SPDX, CycloneDX) with harden against
// the local Sigstore stack in the given storage layout.
func signAttested(t *testing.T, fx *fixture.Fixture, st *sigstoretest.Stack, reg, storage, cache string) releaseRecord {
	t.Helper()
	base := pushBase(t, fx, reg)
	p := buildPublish(t, fx, reg, base, "cosign2-"+storage, cache)
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--config", p.pr.Config, "--out", p.out, "--storage", storage, "--identity-token-file", tok,
		"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath}
	if r := run(t, nil, append([]string{"sign"}, common...)...); r.code != 0 {
		t.Fatalf("sign: %s", r)
	}
	if r := run(t, nil, "sbom", "--config", p.pr.Config, "--out", p.out); r.code != 0 {
		t.Fatalf("sbom: %s", r)
	}
	if r := run(t, nil, append([]string{"attest", "--type", "slsaprovenance1", "--type", "spdxjson", "--type", "cyclonedx"}, common...)...); r.code != 0 {
		t.Fatalf("attest: %s", r)
	}
	return p.rel
}

// TestCosign2Compatibility pins down what cosign v2.6.5 needs to verify
// what harden signs against a Rekor v2 log, in each storage layout
// (docs/compatibility.md is written from it). The legacy layout has no
// room for a Rekor v2 entry, so cosign v2 must skip the log and rely on
// the RFC 3161 timestamp; the referrers layouts carry bundles v0.3, whose
// Rekor v2 entry cosign v2 verifies once the signed timestamp stands in
// for the integrated time that Rekor v2 entries lack.
func TestCosign2Compatibility(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	distReg := os.Getenv("HARDEN_TEST_REGISTRY")
	require(t, distReg != "", "HARDEN_TEST_REGISTRY (Debian docker-registry on 127.0.0.1) is not set")
	cosign2 := cosign2Bin(t)
	st := sigstoretest.Start(t)
	cache := t.TempDir()
	trustedRoot := []string{"--trusted-root", st.TrustedRootPath}
	// cosign v2's verify-attestation takes no --trusted-root outside
	// bundles: the local stack's CA and TSA chains go in as PEM.
	pemRoots := legacyTrustFlags(t, st)

	const (
		signedTS   = "--use-signed-timestamps"
		ignoreTlog = "--insecure-ignore-tlog"
		newBundle  = "--new-bundle-format"
	)
	type want struct {
		trust []string
		flags []string
		ok    bool
		err   string // in the output when !ok
	}
	verify := "verify"
	attest := "verify-attestation"
	layouts := []struct {
		name, reg, storage string
		cases              map[string][]want // by command
	}{
		{"legacy on docker-registry", distReg, "legacy", map[string][]want{
			verify: {
				{trustedRoot, nil, false, "no matching signatures"},
				{trustedRoot, []string{signedTS}, false, "no matching signatures"},
				{trustedRoot, []string{newBundle, signedTS}, false, "no valid bundles exist in registry"},
				{trustedRoot, []string{ignoreTlog, signedTS}, true, ""},
			},
			attest: {
				{trustedRoot, []string{ignoreTlog, signedTS}, false, "trusted root path currently only supported with --new-bundle-format"},
				{pemRoots, []string{signedTS}, false, "getting Rekor public keys"},
				{pemRoots, []string{ignoreTlog, signedTS}, true, ""},
			},
		}},
		{"both on docker-registry", distReg, "both", map[string][]want{
			verify: {
				{trustedRoot, nil, false, "integrated timestamps: 0 < 1"},
				{trustedRoot, []string{signedTS}, true, ""},
				{trustedRoot, []string{ignoreTlog, signedTS}, true, ""},
				{trustedRoot, []string{newBundle, signedTS}, true, ""},
			},
			attest: {
				{trustedRoot, nil, false, "integrated timestamps: 0 < 1"},
				{pemRoots, []string{signedTS}, false, "CA roots/intermediates must be provided using --trusted-root"},
				{trustedRoot, []string{signedTS}, true, ""},
				{trustedRoot, []string{ignoreTlog, signedTS}, true, ""},
			},
		}},
		{"referrers API on ggcr", registrytest.StartReferrers(t), "referrers", map[string][]want{
			verify: {
				{trustedRoot, nil, false, "integrated timestamps: 0 < 1"},
				{trustedRoot, []string{signedTS}, true, ""},
				{trustedRoot, []string{newBundle, signedTS}, true, ""},
			},
			attest: {
				{trustedRoot, nil, false, "integrated timestamps: 0 < 1"},
				{trustedRoot, []string{signedTS}, true, ""},
			},
		}},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			rel := signAttested(t, fx, st, l.reg, l.storage, cache)
			id := []string{"--certificate-oidc-issuer", st.Issuer.URL(), "--allow-http-registry", "--insecure-ignore-sct"}
			cos := func(cmd []string, identity string, w want, img string) (string, error) {
				args := slices.Concat(cmd, []string{"--certificate-identity", identity}, id, w.trust, w.flags, []string{img})
				return cosignCLI(t, cosign2, args...)
			}
			if l.storage == "legacy" {
				// cosign v3 against the same legacy entries, for comparison.
				v3 := testtools.Path(t, "cosign")
				for _, c := range []struct {
					cmd   []string
					flags []string
					ok    bool
				}{
					{[]string{verify}, nil, false},
					{[]string{verify}, []string{ignoreTlog}, true},
					{[]string{verify}, []string{ignoreTlog, signedTS}, true},
					{[]string{attest, "--type", "slsaprovenance1"}, []string{ignoreTlog, signedTS}, true},
				} {
					out, err := cosignCLI(t, v3, slices.Concat(c.cmd, []string{"--certificate-identity", signerEmail}, id, trustedRoot, c.flags, []string{rel.Image})...)
					if c.ok != (err == nil) || (!c.ok && !strings.Contains(out, "no matching signatures")) {
						t.Errorf("cosign v3 %s %v: ok=%v, want %v\n%s", c.cmd[0], c.flags, err == nil, c.ok, lastLines(out, 2))
					}
				}
			}
			for _, name := range []string{verify, attest} {
				cmd := []string{name}
				types := []string{""}
				if name == attest {
					cmd = append(cmd, "--type", "slsaprovenance1")
					types = []string{"slsaprovenance1", "spdxjson", "cyclonedx"}
				}
				for _, w := range l.cases[name] {
					out, err := cos(cmd, signerEmail, w, rel.Image)
					if w.ok != (err == nil) || (!w.ok && !strings.Contains(out, w.err)) {
						t.Errorf("cosign %s %v %v on the index: ok=%v, want ok=%v %q\n%s", name, w.trust[0], w.flags, err == nil, w.ok, w.err, lastLines(out, 2))
						continue
					}
					if !w.ok {
						continue
					}
					// What passes must pass for every manifest and type,
					// and must still refuse another signer.
					for _, p := range rel.Platforms {
						for _, typ := range types {
							c := cmd
							if typ != "" {
								c = []string{attest, "--type", typ}
							}
							if out, err := cos(c, signerEmail, w, p.Image); err != nil {
								t.Errorf("cosign %v %v %v on %s: %v\n%s", c, w.trust[0], w.flags, p.Platform, err, lastLines(out, 2))
							}
						}
					}
					if out, err := cos(cmd, "mallory@example.com", w, rel.Image); err == nil {
						t.Errorf("cosign %s %v %v accepted another identity:\n%s", name, w.trust[0], w.flags, lastLines(out, 2))
					}
				}
			}
		})
	}
}

// legacyTrustFlags gives the stack's Fulcio and TSA chains as PEM files,
// for cosign v2 commands that take no --trusted-root outside bundles.
func legacyTrustFlags(t *testing.T, st *sigstoretest.Stack) []string {
	t.Helper()
	raw, err := os.ReadFile(st.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	type chain struct {
		CertChain struct {
			Certificates []struct {
				RawBytes string `json:"rawBytes"`
			} `json:"certificates"`
		} `json:"certChain"`
	}
	var tr struct {
		CAs  []chain `json:"certificateAuthorities"`
		TSAs []chain `json:"timestampAuthorities"`
	}
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.CAs) != 1 || len(tr.TSAs) != 1 {
		t.Fatalf("trusted root has %d CAs and %d TSAs, want 1 and 1", len(tr.CAs), len(tr.TSAs))
	}
	write := func(name string, c chain) string {
		var b []byte
		for _, cert := range c.CertChain.Certificates {
			der, err := base64.StdEncoding.DecodeString(cert.RawBytes)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return []string{"--ca-roots", write("fulcio.pem", tr.CAs[0]), "--timestamp-certificate-chain", write("tsa.pem", tr.TSAs[0])}
}
