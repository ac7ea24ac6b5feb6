package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/provenance"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/testtools"
)

// TestCosignSignedVerifiesWithHarden: the real cosign CLI signs the
// fixture image keyless against the local Sigstore and attests harden's
// provenance (index) and SBOMs (platform); harden verify accepts it, and
// rejects it for another identity.
func TestCosignSignedVerifiesWithHarden(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	st := sigstoretest.Start(t)
	cosign := testtools.Path(t, "cosign")
	reg := registrytest.StartReferrers(t)
	base := pushBase(t, fx, reg)
	p := buildPublish(t, fx, reg, base, "cosign-signed", "")
	pr, out, rel := p.pr, p.out, p.rel
	repo := strings.SplitN(rel.Image, "@", 2)[0]
	if r := run(t, nil, "sbom", "--config", pr.Config, "--out", out); r.code != 0 {
		t.Fatalf("sbom: %s", r)
	}
	rec, err := buildrecord.ReadRecord(filepath.Join(out, "build.json"))
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := provenance.Statement(provenance.Params{Record: rec, Repository: repo,
		Builder: provenance.Builder{ID: provenance.LocalBuilderID, Version: map[string]string{"harden": "e2e"}}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := provenance.Marshal(stmt)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	prov := filepath.Join(dir, "provenance.json")
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(prov, s.Predicate, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--yes", "--identity-token", tok, "--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath, "--allow-http-registry"}
	cos := func(args ...string) {
		t.Helper()
		if out, err := cosignCLI(t, cosign, append(args[:1:1], append(common, args[1:]...)...)...); err != nil {
			t.Fatalf("cosign %v: %v\n%s", args, err, out)
		}
	}
	plat := rel.Platforms[0]
	cos("sign", rel.Image)
	cos("sign", plat.Image)
	cos("attest", "--type", "slsaprovenance1", "--predicate", prov, rel.Image)
	cos("attest", "--type", "spdxjson", "--predicate", filepath.Join(out, "sbom", "linux-amd64.spdx.json"), plat.Image)
	cos("attest", "--type", "cyclonedx", "--predicate", filepath.Join(out, "sbom", "linux-amd64.cdx.json"), plat.Image)

	args := []string{"verify", rel.Image, "--certificate-oidc-issuer", st.Issuer.URL(), "--trusted-root", st.TrustedRootPath}
	r := run(t, nil, append(args, "--certificate-identity", signerEmail)...)
	if r.code != 0 {
		t.Fatalf("harden verify of a cosign-signed image: %s", r)
	}
	t.Logf("harden verify of the cosign-signed image:\n%s", r.stdout)
	if r := run(t, nil, append(args, "--certificate-identity", "mallory@example.com")...); r.code != 1 {
		t.Fatalf("harden verify accepted another identity: %s", r)
	}

	// cosign signing with a key (cosign's format, made by harden keygen).
	keys := filepath.Join(dir, "cosign")
	pw := []string{"COSIGN_PASSWORD=pw"}
	if r := run(t, pw, "keygen", "--output-key-prefix", keys); r.code != 0 {
		t.Fatalf("keygen: %s", r)
	}
	for _, img := range []string{rel.Image, plat.Image} {
		cmd := append([]string{"sign", "--yes", "--key", keys + ".key", "--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath, "--allow-http-registry"}, img)
		c := exec.Command(cosign, cmd...)
		c.Env = append(os.Environ(), "HOME="+t.TempDir(), "COSIGN_PASSWORD=pw")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("cosign sign --key: %v\n%s", err, out)
		}
	}
	requireSignatureChecks(t, run(t, nil, "verify", rel.Image, "--key", keys+".pub", "--trusted-root", st.TrustedRootPath, "-o", "json"), 2)
}
