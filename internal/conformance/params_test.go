package conformance

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
)

const emptyTrustedRoot = `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	cases := []struct {
		arg    string
		digest bool
	}{
		{"sha256:" + hex64, true},
		{"sha256:" + strings.ToUpper(hex64), true},
		{"sha256:" + hex64[:63], false},
		{"sha256:" + hex64 + "0", false},
		{"sha256:" + hex64[:63] + "g", false},
		{"SHA256:" + hex64, false},
		{"sha512:" + hex64 + hex64, false},
		{hex64, false},
		{"a.txt", false},
		{"", false},
	}
	for _, c := range cases {
		d, ok := parseDigest(c.arg)
		if ok != c.digest {
			t.Errorf("parseDigest(%q) digest=%v, want %v", c.arg, ok, c.digest)
		}
		if ok && len(d) != 32 {
			t.Errorf("parseDigest(%q) gave %d bytes, want 32", c.arg, len(d))
		}
	}
	d, _ := parseDigest("sha256:" + hex64)
	if want := []byte{0x01, 0x23, 0x45, 0x67}; !bytes.Equal(d[:4], want) {
		t.Errorf("digest starts %x, want %x", d[:4], want)
	}
}

// A digest-shaped argument that names an existing file or directory is a
// path.
func TestDigestShapedPathIsPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	fileArg := "sha256:" + strings.Repeat("a", 64)
	dirArg := "sha256:" + strings.Repeat("b", 64)
	writeFile(t, dir, fileArg, "signed bytes")
	if err := os.Mkdir(filepath.Join(dir, dirArg), 0o700); err != nil {
		t.Fatal(err)
	}

	if _, ok := parseDigest(fileArg); ok {
		t.Errorf("%s exists as a file but was taken as a digest", fileArg)
	}
	_, closeFile, err := artifactPolicy(fileArg)
	if err != nil {
		t.Fatalf("artifactPolicy(%s): %v", fileArg, err)
	}
	closeFile()

	if _, ok := parseDigest(dirArg); ok {
		t.Errorf("%s exists as a directory but was taken as a digest", dirArg)
	}
	if _, _, err := artifactPolicy(dirArg); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("artifactPolicy(directory) = %v, want an input error", err)
	}

	_, closeNone, err := artifactPolicy("sha256:" + strings.Repeat("c", 64))
	if err != nil {
		t.Fatalf("artifactPolicy(digest): %v", err)
	}
	closeNone()
}

func TestVerifyBundleUsageErrors(t *testing.T) {
	dir := t.TempDir()
	trustedRoot := writeFile(t, dir, "trusted_root.json", emptyTrustedRoot)
	badRoot := writeFile(t, dir, "bad_root.json", `{"mediaType": 7}`)
	artifact := writeFile(t, dir, "a.txt", "hello\n")
	bundlePath := writeFile(t, dir, "bundle.json", "{}")
	badKey := writeFile(t, dir, "bad.pub", "not a PEM key\n")
	missing := filepath.Join(dir, "missing")
	const id, issuer = "https://example.com/id", "https://issuer.example.com"
	keyless := Params{BundlePath: bundlePath, CertificateIdentity: id, CertificateOIDCIssuer: issuer,
		TrustedRootPath: trustedRoot, Artifact: artifact}
	with := func(f func(*Params)) Params {
		p := keyless
		f(&p)
		return p
	}

	cases := []struct {
		name string
		p    Params
		want string
	}{
		{"no bundle", with(func(p *Params) { p.BundlePath = "" }), "pass --bundle"},
		{"no artifact", with(func(p *Params) { p.Artifact = "" }), "no artifact"},
		{"key and identity", with(func(p *Params) { p.KeyPath = badKey }), "--key cannot be combined"},
		{"key and issuer", with(func(p *Params) { p.KeyPath, p.CertificateIdentity = badKey, "" }), "--key cannot be combined"},
		{"identity only", with(func(p *Params) { p.CertificateOIDCIssuer = "" }), "needs both"},
		{"issuer only", with(func(p *Params) { p.CertificateIdentity = "" }), "needs both"},
		{"neither", with(func(p *Params) { p.CertificateIdentity, p.CertificateOIDCIssuer = "", "" }), "needs both"},
		{"missing key", with(func(p *Params) { p.CertificateIdentity, p.CertificateOIDCIssuer, p.KeyPath = "", "", missing }), "read public key"},
		{"bad key", with(func(p *Params) { p.CertificateIdentity, p.CertificateOIDCIssuer, p.KeyPath = "", "", badKey }), "PEM-encoded"},
		{"missing artifact", with(func(p *Params) { p.Artifact = missing }), "open artifact"},
		{"artifact is a directory", with(func(p *Params) { p.Artifact = dir }), "is a directory"},
		{"missing trusted root", with(func(p *Params) { p.TrustedRootPath = missing }), "read trusted root"},
		{"bad trusted root", with(func(p *Params) { p.TrustedRootPath = badRoot }), "not a valid Sigstore trusted root"},
		{"missing bundle", with(func(p *Params) { p.BundlePath = missing }), "read bundle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyBundle(context.Background(), c.p)
			if got := errs.ExitCode(err); got != errs.CodeInput {
				t.Fatalf("exit code %d, want %d (err: %v)", got, errs.CodeInput, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}

	// A file that is not a bundle fails verification rather than usage.
	err := VerifyBundle(context.Background(), keyless)
	if got := errs.ExitCode(err); got != errs.CodeCheckFailed {
		t.Errorf("invalid bundle: exit code %d, want %d (err: %v)", got, errs.CodeCheckFailed, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := VerifyBundle(ctx, keyless); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: err %v, want context.Canceled", err)
	}
}
