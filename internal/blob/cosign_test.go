package blob

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/testtools"
)

// cosignCLI runs the real cosign CLI with a private HOME, so it neither
// reads nor writes the caller's ~/.sigstore.
func cosignCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testtools.Path(t, "cosign"), args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "COSIGN_PASSWORD=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tokenFile writes a fresh identity token to a file: cosign reads its
// --identity-token from a file when it can.
func tokenFile(t *testing.T, w *world) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(w.st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCosignInterop: bundles harden writes pass cosign verify-blob and
// verify-blob-attestation, and bundles cosign sign-blob and attest-blob
// write pass harden's Verify, keyless and with a key.
func TestCosignInterop(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	file := w.file(t, "SHA256SUMS", "0123  harden_v1.0.0_linux_amd64\n")
	keyless := []string{"--certificate-identity", signerEmail, "--certificate-oidc-issuer", w.st.Issuer.URL(),
		"--trusted-root", w.st.TrustedRootPath, "--insecure-ignore-sct"}

	t.Run("harden keyless, cosign verifies", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "b.sigstore.json")
		if _, err := SignFile(ctx, w.keyless, file, b); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"verify-blob", "--bundle", b, "--new-bundle-format"}, keyless...)
		if out, err := cosignCLI(t, append(args, file)...); err != nil {
			t.Fatalf("cosign verify-blob: %v\n%s", err, out)
		}
		bad := append([]string{"verify-blob", "--bundle", b, "--new-bundle-format", "--certificate-identity", "mallory@example.com"}, keyless[2:]...)
		if out, err := cosignCLI(t, append(bad, file)...); err == nil {
			t.Fatalf("cosign accepted a wrong identity:\n%s", out)
		}
		tampered := w.file(t, "tampered", "0123  harden_v1.0.0_linux_amd64\nextra\n")
		if out, err := cosignCLI(t, append(args, tampered)...); err == nil {
			t.Fatalf("cosign accepted a changed file:\n%s", out)
		}
	})
	t.Run("harden key, cosign verifies", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "b.sigstore.json")
		if _, err := SignFile(ctx, w.keyed, file, b); err != nil {
			t.Fatal(err)
		}
		if out, err := cosignCLI(t, "verify-blob", "--bundle", b, "--new-bundle-format", "--key", w.pub, "--trusted-root", w.st.TrustedRootPath, file); err != nil {
			t.Fatalf("cosign verify-blob --key: %v\n%s", err, out)
		}
	})
	t.Run("harden statement, cosign verifies", func(t *testing.T) {
		st := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"SHA256SUMS","digest":{"sha256":%q}},{"name":"other","digest":{"sha256":%q}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"x","externalParameters":{}},"runDetails":{"builder":{"id":"y"}}}}`,
			sha("0123  harden_v1.0.0_linux_amd64\n"), sha("other"))
		b := filepath.Join(t.TempDir(), "b.sigstore.json")
		if _, err := SignStatement(ctx, w.keyless, []byte(st), b); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"verify-blob-attestation", "--bundle", b, "--new-bundle-format", "--type", "slsaprovenance1"}, keyless...)
		if out, err := cosignCLI(t, append(args, file)...); err != nil {
			t.Fatalf("cosign verify-blob-attestation: %v\n%s", err, out)
		}
		stranger := w.file(t, "stranger", "no subject")
		if out, err := cosignCLI(t, append(args, stranger)...); err == nil {
			t.Fatalf("cosign accepted a file the statement does not name:\n%s", out)
		}
	})

	common := []string{"--trusted-root", w.st.TrustedRootPath, "--signing-config", w.st.SigningConfigPath, "--yes"}
	t.Run("cosign keyless, harden verifies", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "c.sigstore.json")
		args := append([]string{"sign-blob", "--bundle", b, "--identity-token", tokenFile(t, w)}, common...)
		if out, err := cosignCLI(t, append(args, file)...); err != nil {
			t.Fatalf("cosign sign-blob: %v\n%s", err, out)
		}
		res, err := Verify(ctx, w.keylessOpts(file, b))
		if err != nil {
			t.Fatal(err)
		}
		if res.Content != ContentMessage || res.Signer.Subject != signerEmail || res.LogIndex == nil {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("cosign key, harden verifies", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "c.sigstore.json")
		args := append([]string{"sign-blob", "--bundle", b, "--key", w.key}, common...)
		if out, err := cosignCLI(t, append(args, file)...); err != nil {
			t.Fatalf("cosign sign-blob --key: %v\n%s", err, out)
		}
		o := VerifyOptions{File: file, Bundle: b, KeyPath: w.pub, Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath}}
		if _, err := Verify(ctx, o); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cosign attest-blob, harden verifies", func(t *testing.T) {
		dir := t.TempDir()
		pred := filepath.Join(dir, "predicate.json")
		if err := os.WriteFile(pred, []byte(`{"buildDefinition":{"buildType":"x","externalParameters":{}},"runDetails":{"builder":{"id":"y"}}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		b := filepath.Join(dir, "c.sigstore.json")
		args := append([]string{"attest-blob", "--bundle", b, "--new-bundle-format", "--predicate", pred, "--type", "slsaprovenance1",
			"--identity-token", tokenFile(t, w)}, common...)
		if out, err := cosignCLI(t, append(args, file)...); err != nil {
			t.Fatalf("cosign attest-blob: %v\n%s", err, out)
		}
		res, err := Verify(ctx, w.keylessOpts(file, b))
		if err != nil {
			t.Fatal(err)
		}
		if res.Content != ContentDSSE || res.PredicateType != "https://slsa.dev/provenance/v1" {
			t.Fatalf("result %+v", res)
		}
	})
}
