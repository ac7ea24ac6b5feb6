package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/verify"
)

const signerEmail = "release@example.com"

// world is a local Sigstore stack, a keyless signer and a key signer.
type world struct {
	st      *sigstoretest.Stack
	keyless *sign.Signer
	keyed   *sign.Signer
	pub     string // the key signer's cosign.pub
	key     string // and its cosign.key (password "")
	dir     string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: needs the local Sigstore stack (Fulcio, TSA, Rekor v2); run without -short")
	}
	ctx := context.Background()
	st := sigstoretest.Start(t)
	trust := &sign.Trust{Root: st.TrustedRoot, Config: st.SigningConfig}
	tok, err := sign.ResolveToken(ctx, sign.TokenOptions{Token: st.Issuer.Token(t, signerEmail), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	keyless, err := sign.New(ctx, sign.Options{Trust: trust, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kp, err := sign.GenerateKey(filepath.Join(dir, "cosign"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := sign.LoadKey(kp.Private, nil)
	if err != nil {
		t.Fatal(err)
	}
	keyed, err := sign.New(ctx, sign.Options{Trust: trust, Key: sv})
	if err != nil {
		t.Fatal(err)
	}
	return &world{st: st, keyless: keyless, keyed: keyed, pub: kp.Public, key: kp.Private, dir: dir}
}

func (w *world) file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) keylessOpts(file, bundle string) VerifyOptions {
	return VerifyOptions{File: file, Bundle: bundle, Identity: Identity{Subject: signerEmail, Issuer: w.st.Issuer.URL()},
		Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath}}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// wantFailure checks a verification failed with exit 1, the named
// check and exactly the message given.
func wantFailure(t *testing.T, err error, check, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("verified; want the %s check to fail", check)
	}
	if c := errs.ExitCode(err); c != errs.CodeCheckFailed {
		t.Fatalf("exit %d, want 1: %v", c, err)
	}
	var f *Failure
	if !errors.As(err, &f) || f.Check != check {
		t.Fatalf("failed %v, want the %s check", err, check)
	}
	if err.Error() != msg {
		t.Fatalf("message:\n got %s\nwant %s", err, msg)
	}
}

func TestSignVerifyKeyless(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const content = "abc123  harden_v1.0.0_linux_amd64\n"
	file := w.file(t, "SHA256SUMS", content)
	bundle := file + ".sigstore.json"
	signed, err := SignFile(ctx, w.keyless, file, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if signed.SHA256 != sha(content) || signed.Content != ContentMessage || signed.Signer.Subject != signerEmail || signed.LogIndex == nil {
		t.Fatalf("signed %+v", signed)
	}
	res, err := Verify(ctx, w.keylessOpts(file, bundle))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.SHA256 != sha(content) || res.Content != ContentMessage || res.Signer.Subject != signerEmail ||
		res.Signer.Issuer != w.st.Issuer.URL() || len(res.Timestamps) == 0 || res.LogIndex == nil || res.PredicateType != "" {
		t.Fatalf("result %+v", res)
	}

	t.Run("regexps", func(t *testing.T) {
		o := w.keylessOpts(file, bundle)
		o.Identity = Identity{SubjectRegexp: verify.Anchor(`release@example\.(com|org)`), IssuerRegexp: verify.Anchor(`http://127\.0\.0\.1:[0-9]+`)}
		if _, err := Verify(ctx, o); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("tampered file", func(t *testing.T) {
		other := w.file(t, "tampered", content+"x")
		o := w.keylessOpts(other, bundle)
		_, err := Verify(ctx, o)
		wantFailure(t, err, "digest", fmt.Sprintf("%s is NOT verified by %s: digest check failed: the bundle signs sha256:%s, but %s has sha256:%s: the file was changed, or the bundle is for another file",
			other, bundle, sha(content), other, sha(content+"x")))
	})
	t.Run("bundle for another file", func(t *testing.T) {
		other := w.file(t, "other", "other content\n")
		otherBundle := other + ".sigstore.json"
		if _, err := SignFile(ctx, w.keyless, other, otherBundle); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(ctx, w.keylessOpts(file, otherBundle))
		wantFailure(t, err, "digest", fmt.Sprintf("%s is NOT verified by %s: digest check failed: the bundle signs sha256:%s, but %s has sha256:%s: the file was changed, or the bundle is for another file",
			file, otherBundle, sha("other content\n"), file, sha(content)))
	})
	t.Run("wrong identity", func(t *testing.T) {
		o := w.keylessOpts(file, bundle)
		o.Identity.Subject = "mallory@example.com"
		_, err := Verify(ctx, o)
		wantFailure(t, err, "identity", fmt.Sprintf("%s is NOT verified by %s: identity check failed: signed by %s, not mallory@example.com", file, bundle, signerEmail))
	})
	t.Run("identity regexp is anchored", func(t *testing.T) {
		o := w.keylessOpts(file, bundle)
		id, err := ResolveIdentity(verify.IdentityFlags{SubjectRegexp: `release@example`, Issuer: w.st.Issuer.URL()}, "")
		if err != nil {
			t.Fatal(err)
		}
		o.Identity = id
		_, err = Verify(ctx, o)
		wantFailure(t, err, "identity", fmt.Sprintf("%s is NOT verified by %s: identity check failed: signed by %s, not one matching ^(?:release@example)$", file, bundle, signerEmail))
	})
	t.Run("wrong issuer", func(t *testing.T) {
		o := w.keylessOpts(file, bundle)
		o.Identity.Issuer = "https://accounts.example.com"
		_, err := Verify(ctx, o)
		wantFailure(t, err, "issuer", fmt.Sprintf("%s is NOT verified by %s: issuer check failed: the certificate's OIDC issuer is %s, not https://accounts.example.com", file, bundle, w.st.Issuer.URL()))
	})
	t.Run("untrusted root", func(t *testing.T) {
		other := sigstoretest.Start(t)
		o := w.keylessOpts(file, bundle)
		o.Trust.TrustedRootPath = other.TrustedRootPath
		_, err := Verify(ctx, o)
		wantFailure(t, err, "tlog", fmt.Sprintf("%s is NOT verified by %s: tlog check failed: its transparency log entry does not verify against the logs of the trusted root %s (it was signed with another Sigstore instance, or the entry was altered)", file, bundle, other.TrustedRootPath))
	})
	t.Run("signed with a key, verified keyless", func(t *testing.T) {
		kb := filepath.Join(w.dir, "keyed.sigstore.json")
		if _, err := SignFile(ctx, w.keyed, file, kb); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(ctx, w.keylessOpts(file, kb))
		wantFailure(t, err, "identity", fmt.Sprintf("%s is NOT verified by %s: identity check failed: the bundle was signed with a key, not a certificate; verify it with --key", file, kb))
	})
}

func TestSignVerifyKey(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	file := w.file(t, "SHA256SUMS", "keyed content\n")
	bundle := file + ".sigstore.json"
	signed, err := SignFile(ctx, w.keyed, file, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if signed.Signer.KeyID == "" || signed.LogIndex == nil {
		t.Fatalf("signed %+v", signed)
	}
	o := VerifyOptions{File: file, Bundle: bundle, KeyPath: w.pub, Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath}}
	res, err := Verify(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Signer.KeyID != signed.Signer.KeyID || res.LogIndex == nil {
		t.Fatalf("result %+v, want key %s", res, signed.Signer.KeyID)
	}

	t.Run("another key", func(t *testing.T) {
		kp, err := sign.GenerateKey(filepath.Join(t.TempDir(), "other"), nil)
		if err != nil {
			t.Fatal(err)
		}
		o := o
		o.KeyPath = kp.Public
		_, err = Verify(ctx, o)
		wantFailure(t, err, "key", fmt.Sprintf("%s is NOT verified by %s: key check failed: the signature does not verify with the key in %s", file, bundle, kp.Public))
	})
	t.Run("keyless bundle", func(t *testing.T) {
		kb := filepath.Join(w.dir, "keyless.sigstore.json")
		if _, err := SignFile(ctx, w.keyless, file, kb); err != nil {
			t.Fatal(err)
		}
		o := o
		o.Bundle = kb
		_, err := Verify(ctx, o)
		wantFailure(t, err, "key", fmt.Sprintf("%s is NOT verified by %s: key check failed: the bundle was signed keyless by %s (issuer %s), not with the key in %s", file, kb, signerEmail, w.st.Issuer.URL(), w.pub))
	})
	t.Run("air-gapped", func(t *testing.T) {
		sv, err := sign.LoadKey(w.key, nil)
		if err != nil {
			t.Fatal(err)
		}
		offline, err := sign.New(ctx, sign.Options{Key: sv})
		if err != nil {
			t.Fatal(err)
		}
		ab := filepath.Join(w.dir, "airgapped.sigstore.json")
		if _, err := SignFile(ctx, offline, file, ab); err != nil {
			t.Fatal(err)
		}
		o := VerifyOptions{File: file, Bundle: ab, KeyPath: w.pub, Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath}}
		_, err = Verify(ctx, o)
		wantFailure(t, err, "tlog", fmt.Sprintf("%s is NOT verified by %s: tlog check failed: the bundle has no transparency log entry; if it was signed without a log on purpose, accept it with --insecure-ignore-tlog", file, ab))
		// Accepted without a log only when asked, and then without any
		// Sigstore trust material.
		o = VerifyOptions{File: file, Bundle: ab, KeyPath: w.pub, InsecureIgnoreTlog: true, Trust: sign.TrustOptions{Offline: true}}
		if _, err := Verify(ctx, o); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSignVerifyStatement(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bin := w.file(t, "harden_v1.0.0_linux_amd64", "binary one")
	other := w.file(t, "harden_v1.0.0_linux_arm64", "binary two")
	stranger := w.file(t, "unrelated", "not a subject")
	st := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"harden_v1.0.0_linux_amd64","digest":{"sha256":%q}},{"name":"harden_v1.0.0_linux_arm64","digest":{"sha256":%q}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"x","externalParameters":{}},"runDetails":{"builder":{"id":"y"}}}}`,
		sha("binary one"), sha("binary two"))
	bundle := filepath.Join(w.dir, "harden.intoto.sigstore.json")
	signed, err := SignStatement(ctx, w.keyless, []byte(st), bundle)
	if err != nil {
		t.Fatal(err)
	}
	if signed.Content != ContentDSSE {
		t.Fatalf("signed %+v", signed)
	}
	for _, f := range []string{bin, other} {
		res, err := Verify(ctx, w.keylessOpts(f, bundle))
		if err != nil {
			t.Fatal(err)
		}
		if res.Content != ContentDSSE || res.PredicateType != "https://slsa.dev/provenance/v1" || len(res.Subjects) != 2 {
			t.Fatalf("result %+v", res)
		}
	}
	_, err = Verify(ctx, w.keylessOpts(stranger, bundle))
	wantFailure(t, err, "subject", fmt.Sprintf("%s is NOT verified by %s: subject check failed: the statement is about harden_v1.0.0_linux_amd64@sha256:%s, harden_v1.0.0_linux_arm64@sha256:%s, not %s (sha256:%s): the file was changed, or the bundle is for another file",
		stranger, bundle, sha("binary one"), sha("binary two"), stranger, sha("not a subject")))

	if _, err := SignStatement(ctx, w.keyless, []byte(`{"not":"a statement"}`), bundle+".x"); errs.ExitCode(err) != errs.CodeInput {
		t.Fatalf("signing a non-statement: %v, want exit 2", err)
	}
}

// TestVerifyBadInput: unusable inputs exit 2 before anything is
// verified, each with a message that says what to pass.
func TestVerifyBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notBundle := write("not.json", `{"hello": "world"}`)
	oldFormat := write("old.json", `{"base64Signature":"MEUC","cert":"","rekorBundle":{}}`)
	garbage := write("garbage", "\x00\x01")
	id := Identity{Subject: signerEmail, Issuer: "https://issuer.example"}
	for _, c := range []struct {
		name string
		o    VerifyOptions
		want string
	}{
		{"no file", VerifyOptions{Bundle: notBundle, Identity: id}, "name the file to verify: harden verify-blob FILE --bundle BUNDLE"},
		{"no bundle", VerifyOptions{File: file, Identity: id}, "no bundle: pass --bundle FILE (e.g. " + file + ".sigstore.json)"},
		{"no signer", VerifyOptions{File: file, Bundle: notBundle}, "say who must have signed: --certificate-identity (or --certificate-identity-regexp) with --certificate-oidc-issuer, or --github-repo for a GitHub Actions workflow, or --key for a key"},
		{"key and identity", VerifyOptions{File: file, Bundle: notBundle, Identity: id, KeyPath: "k"}, "--key and the certificate identity flags exclude each other: verify a key-signed bundle with --key, a keyless one with --certificate-identity and --certificate-oidc-issuer"},
		{"missing file", VerifyOptions{File: filepath.Join(dir, "missing"), Bundle: notBundle, Identity: id}, "open " + filepath.Join(dir, "missing") + ": open " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"directory", VerifyOptions{File: dir, Bundle: notBundle, Identity: id}, dir + " is a directory; name the signed file"},
		{"missing bundle", VerifyOptions{File: file, Bundle: filepath.Join(dir, "nb"), Identity: id}, "read bundle: open " + filepath.Join(dir, "nb") + ": no such file or directory"},
		{"cosign's old format", VerifyOptions{File: file, Bundle: oldFormat, Identity: id}, oldFormat + " is in cosign's older bundle format, not a Sigstore bundle; sign again with harden sign-blob or cosign sign-blob --new-bundle-format"},
		{"bad key", VerifyOptions{File: file, Bundle: write("b2.json", validShapeBundle), KeyPath: garbage, InsecureIgnoreTlog: true}, garbage + " is not a PEM public key: PEM decoding failed; pass the cosign.pub of the signing key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(context.Background(), c.o)
			if errs.ExitCode(err) != errs.CodeInput || err.Error() != c.want {
				t.Fatalf("got exit %d: %v\nwant exit 2: %s", errs.ExitCode(err), err, c.want)
			}
		})
	}
	t.Run("offline without a root", func(t *testing.T) {
		cache := t.TempDir()
		_, err := Verify(context.Background(), VerifyOptions{File: file, Bundle: write("b.json", validShapeBundle), Identity: id,
			Trust: sign.TrustOptions{Offline: true, CacheDir: cache}})
		want := "offline: the TUF cache in " + filepath.Join(cache, "tuf") + " holds no unexpired trust material; run once with the network to fill it, or pass --trusted-root FILE: "
		if errs.ExitCode(err) != errs.CodeInput || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("got exit %d: %v\nwant exit 2: %s...", errs.ExitCode(err), err, want)
		}
	})
	t.Run("not a bundle", func(t *testing.T) {
		for _, b := range []string{notBundle, garbage} {
			_, err := Verify(context.Background(), VerifyOptions{File: file, Bundle: b, Identity: id})
			if errs.ExitCode(err) != errs.CodeInput || !strings.HasPrefix(err.Error(), b+" is not a Sigstore bundle: ") ||
				!strings.HasSuffix(err.Error(), "; pass the .sigstore.json written by harden sign-blob or cosign sign-blob --bundle") {
				t.Fatalf("%s: exit %d: %v", b, errs.ExitCode(err), err)
			}
		}
	})
}

// validShapeBundle parses as a v0.3 bundle (its signature is junk).
const validShapeBundle = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"aGk="},"tlogEntries":[]},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564="},"signature":"MEUCIQ=="}}`

func TestResolveIdentity(t *testing.T) {
	for _, c := range []struct {
		name     string
		f        verify.IdentityFlags
		issuerRE string
		want     Identity
		err      string
	}{
		{"exact", verify.IdentityFlags{Subject: "a@b", Issuer: "https://i"}, "", Identity{Subject: "a@b", Issuer: "https://i"}, ""},
		{"issuer regexp", verify.IdentityFlags{Subject: "a@b"}, `https://i\.example/.*`, Identity{Subject: "a@b", IssuerRegexp: `^(?:https://i\.example/.*)$`}, ""},
		{"both issuers", verify.IdentityFlags{Subject: "a@b", Issuer: "https://i"}, "x", Identity{}, "give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both"},
		{"bad issuer regexp", verify.IdentityFlags{Subject: "a@b"}, "(", Identity{}, "--certificate-oidc-issuer-regexp: error parsing regexp: missing closing ): `^(?:()$`"},
		{"no subject", verify.IdentityFlags{}, "x", Identity{}, "--certificate-identity (exact) or --certificate-identity-regexp is required, or use --github-repo"},
		{"github", verify.IdentityFlags{GitHubRepo: "o/r", GitHubWorkflow: "release.yml"}, "",
			Identity{SubjectRegexp: `^https://github\.com/o/r/\.github/workflows/release\.yml@refs/.+$`, Issuer: verify.GitHubIssuer, SourceRepository: "https://github.com/o/r"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolveIdentity(c.f, c.issuerRE)
			if c.err != "" {
				if err == nil || err.Error() != c.err || errs.ExitCode(err) != errs.CodeInput {
					t.Fatalf("got %v, want exit 2: %s", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}
