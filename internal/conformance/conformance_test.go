package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
)

// Defaults the conformance suite uses when a case has no identity or
// issuer file.
const (
	defaultIdentity = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	defaultIssuer   = "https://token.actions.githubusercontent.com"
)

// exceptions are cases that cannot give their expected outcome here, each
// with the proven reason. A listed case that starts giving its expected
// outcome fails the test, so the list stays honest.
func exceptions() map[string]string {
	return map[string]string{
		// The bundle's RFC 3161 timestamp is signed by the public-good TSA
		// (TSA name O=sigstore.dev, CN=sigstore-tsa; signer issued by
		// CN=sigstore-tsa-selfsigned, serial 3A13542F0C9061EEBCC1432FCB8A8E8B2A238B0C),
		// and carries no certificates. trusted_root_public_good.json, the
		// sigstore-go v1.3.0 example snapshot, lists only GitHub's TSA
		// (CN=TSA Timestamping, 2023), so the timestamp cannot verify and
		// VerifyBundle rejects a bundle with an unverifiable timestamp.
		// The live public-good root from TUF lists the sigstore.dev TSA.
		"managed-key-happy-path": "the trusted-root snapshot predates the public-good TSA that signed the bundle's RFC 3161 timestamp",
	}
}

// inputFailures are _fail cases whose defect is in the verifier's inputs
// rather than in the bundle, so they fail as input errors (exit 2) rather
// than failed checks (exit 1).
func inputFailures() map[string]string {
	return map[string]string{
		"trust-root-tlog-missing-validity-start_fail": "the trusted root itself is malformed",
		"managed-key-wrong-key_fail":                  "key.pub is not a valid P-256 public key (point not on the curve)",
	}
}

// vectorDir is the sigstore conformance directory (holding bundle-verify/):
// $HARDEN_CONFORMANCE_DIR, else shared/conformance/sigstore beside the
// repository. It skips the test when the vectors are absent, or fails it
// when HARDEN_REQUIRE_CONFORMANCE=1.
func vectorDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HARDEN_CONFORMANCE_DIR")
	if dir == "" {
		modRoot, err := moduleRoot()
		if err != nil {
			t.Fatalf("locate the module root: %v", err)
		}
		dir = filepath.Join(filepath.Dir(modRoot), "shared", "conformance", "sigstore")
	}
	if _, err := os.Stat(filepath.Join(dir, "bundle-verify")); err != nil {
		msg := "sigstore conformance vectors not found: " + err.Error() +
			"; set HARDEN_CONFORMANCE_DIR to the directory holding bundle-verify/"
		if os.Getenv("HARDEN_REQUIRE_CONFORMANCE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// moduleRoot walks up from the working directory to the go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// caseParams builds the verify-bundle request the conformance suite makes
// for one case directory.
func caseParams(t *testing.T, vectors, name string) Params {
	t.Helper()
	dir := filepath.Join(vectors, "bundle-verify", name)
	p := Params{
		BundlePath:      filepath.Join(dir, "bundle.sigstore.json"),
		Artifact:        filepath.Join(vectors, "bundle-verify", "a.txt"),
		TrustedRootPath: filepath.Join(vectors, "trusted_root_public_good.json"),
	}
	if exists(t, filepath.Join(dir, "artifact")) {
		p.Artifact = filepath.Join(dir, "artifact")
	}
	if exists(t, filepath.Join(dir, "trusted_root.json")) {
		p.TrustedRootPath = filepath.Join(dir, "trusted_root.json")
	}
	if exists(t, filepath.Join(dir, "key.pub")) {
		p.KeyPath = filepath.Join(dir, "key.pub")
		return p
	}
	p.CertificateIdentity = readOr(t, filepath.Join(dir, "identity"), defaultIdentity)
	p.CertificateOIDCIssuer = readOr(t, filepath.Join(dir, "issuer"), defaultIssuer)
	return p
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func readOr(t *testing.T, path, def string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return def
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func caseNames(t *testing.T, vectors string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(vectors, "bundle-verify"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("bundle-verify holds no cases")
	}
	return names
}

// TestBundleVerifyVectors runs every bundle-verify case, with the artifact
// given as a file and as a sha256 digest.
func TestBundleVerifyVectors(t *testing.T) {
	vectors := vectorDir(t)
	names := caseNames(t, vectors)
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n] = true
	}
	except, inputFail := exceptions(), inputFailures()
	for _, table := range []map[string]string{except, inputFail} {
		for n := range table {
			if !known[n] {
				t.Errorf("table entry %q names no case in bundle-verify; remove it", n)
			}
		}
	}

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := caseParams(t, vectors, name)
			data, err := os.ReadFile(p.Artifact)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			byDigest := p
			byDigest.Artifact = digestPrefix + hex.EncodeToString(sum[:])
			for _, m := range []struct {
				name string
				p    Params
			}{{"file", p}, {"digest", byDigest}} {
				t.Run(m.name, func(t *testing.T) {
					checkOutcome(t, name, except[name], inputFail[name] != "", VerifyBundle(context.Background(), m.p))
				})
			}
		})
	}
}

// checkOutcome compares err with the case's expected outcome. exception
// is the reason the case is a listed exception, or empty; inputFailure
// says a _fail case must fail with an input error.
func checkOutcome(t *testing.T, name, exception string, inputFailure bool, err error) {
	t.Helper()
	wantFail := strings.HasSuffix(name, "_fail")
	expected := (err != nil) == wantFail
	if exception != "" {
		if expected {
			t.Errorf("listed exception now gives its expected outcome (err: %v); remove it from exceptions (reason was: %s)", err, exception)
			return
		}
		t.Logf("known exception (%s): %v", exception, err)
		return
	}
	switch {
	case wantFail && err == nil:
		t.Error("verified, but the case must fail")
	case !wantFail && err != nil:
		t.Errorf("did not verify: %v", err)
	case wantFail:
		want := errs.CodeCheckFailed
		if inputFailure {
			want = errs.CodeInput
		}
		if got := errs.ExitCode(err); got != want {
			t.Errorf("failed with exit code %d, want %d: %v", got, want, err)
		}
		t.Logf("rejected as expected: %v", err)
	}
}
