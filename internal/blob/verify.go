package blob

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/sign"
)

// What a bundle holds.
const (
	ContentMessage = "message-signature"
	ContentDSSE    = "dsse-envelope"
)

// maxBundleSize bounds what is read as a bundle: real ones are a few KiB.
const maxBundleSize = 16 << 20

// VerifyOptions say what to verify and whom to trust.
type VerifyOptions struct {
	File   string
	Bundle string
	// Identity is the keyless signer; KeyPath a PEM public key instead.
	Identity Identity
	KeyPath  string
	// Trust locates the trusted root (public good through TUF unless a
	// file is given).
	Trust sign.TrustOptions
	// InsecureIgnoreTlog accepts bundles without a transparency log
	// entry; keyless ones then need an RFC 3161 timestamp.
	InsecureIgnoreTlog bool
}

// Result is a verified bundle.
type Result struct {
	File          string   `json:"file"`
	SHA256        string   `json:"sha256"`
	Bundle        string   `json:"bundle"`
	Content       string   `json:"content"` // ContentMessage or ContentDSSE
	PredicateType string   `json:"predicateType,omitempty"`
	Subjects      []string `json:"subjects,omitempty"` // DSSE: name@sha256:… of each statement subject
	// Signer is the certificate's identity, or the key's fingerprint.
	Signer     sign.Identity `json:"signer"`
	LogIndex   *int64        `json:"logIndex,omitempty"`
	Timestamps []time.Time   `json:"timestamps,omitempty"` // verified signing times
	Verified   bool          `json:"verified"`
}

// Failure is a check the bundle failed, named by Check ("digest",
// "subject", "identity", "issuer", "key", "tlog", "certificate",
// "timestamp" or "signature").
type Failure struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

func (f *Failure) Error() string { return f.Check + " check failed: " + f.Reason }

// Verify checks o.Bundle against o.File. A failed check is an
// errs.Check wrapping a *Failure; unusable inputs are errs.Input.
func Verify(ctx context.Context, o VerifyOptions) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	sum, err := fileSHA256(o.File)
	if err != nil {
		return nil, err
	}
	b, err := readBundle(o.Bundle)
	if err != nil {
		return nil, err
	}
	v, err := newVerifier(o)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(o.File)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("open %s: %w", o.File, err))
	}
	defer f.Close()
	// The bytes verified are hashed again, so the reported digest is
	// theirs even if the file changes meanwhile.
	h := sha256.New()
	res, verr := v.sev.Verify(b, sgverify.NewPolicy(sgverify.WithArtifact(io.TeeReader(f, h)), v.policy))
	if verr != nil {
		fail := v.explain(b, o, sum, verr)
		return nil, errs.Check(fmt.Errorf("%s is NOT verified by %s: %w", o.File, o.Bundle, fail))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return nil, errs.Check(fmt.Errorf("%s is NOT verified by %s: %w", o.File, o.Bundle,
			&Failure{"digest", fmt.Sprintf("%s changed while it was verified (sha256:%s, then sha256:%s)", o.File, sum, got)}))
	}
	return v.result(b, res, o, sum), nil
}

func (o VerifyOptions) validate() error {
	switch {
	case o.File == "":
		return errs.Input(errors.New("name the file to verify: harden verify-blob FILE --bundle BUNDLE"))
	case o.Bundle == "":
		return errs.Input(fmt.Errorf("no bundle: pass --bundle FILE (e.g. %s.sigstore.json)", o.File))
	case o.KeyPath != "" && !o.Identity.IsZero():
		return errKeyAndIdentity
	case o.KeyPath == "" && o.Identity.IsZero():
		return errs.Input(errors.New("say who must have signed: --certificate-identity (or --certificate-identity-regexp) with --certificate-oidc-issuer, or --github-repo for a GitHub Actions workflow, or --key for a key"))
	}
	return nil
}

// fileSHA256 hashes the file in one streaming pass.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", errs.Input(fmt.Errorf("open %s: %w", path, err))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return "", errs.Input(fmt.Errorf("%s is a directory; name the signed file", path))
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", errs.Input(fmt.Errorf("read %s: %w", path, err))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readBundle reads a Sigstore bundle (v0.1 to v0.3).
func readBundle(path string) (*bundle.Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("read bundle: %w", err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBundleSize+1))
	if err != nil {
		return nil, errs.Input(fmt.Errorf("read bundle %s: %w", path, err))
	}
	if len(data) > maxBundleSize {
		return nil, errs.Input(fmt.Errorf("bundle %s is larger than %d MiB: not a Sigstore bundle", path, maxBundleSize>>20))
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) == nil {
		if _, ok := probe["base64Signature"]; ok {
			return nil, errs.Input(fmt.Errorf("%s is in cosign's older bundle format, not a Sigstore bundle; sign again with harden sign-blob or cosign sign-blob --new-bundle-format", path))
		}
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, errs.Input(fmt.Errorf("%s is not a Sigstore bundle: %w; pass the .sigstore.json written by harden sign-blob or cosign sign-blob --bundle", path, err))
	}
	return &b, nil
}

type verifier struct {
	sev     *sgverify.Verifier
	keyOnly *sgverify.Verifier // the key alone, no log or time: tells a wrong key from a bad log entry
	policy  sgverify.PolicyOption
	keyed   bool
	keyID   string // sha256 of the key's PKIX DER, as harden names keys
	trusted string // what the trust came from, for messages
}

func newVerifier(o VerifyOptions) (*verifier, error) {
	v := &verifier{keyed: o.KeyPath != "", trusted: "the public-good Sigstore trusted root"}
	if o.Trust.TrustedRootPath != "" {
		v.trusted = "the trusted root " + o.Trust.TrustedRootPath
	}
	var keyMaterial root.TrustedMaterial
	if v.keyed {
		km, id, err := loadKey(o.KeyPath)
		if err != nil {
			return nil, err
		}
		keyMaterial, v.keyID = km, id
		v.policy = sgverify.WithKey()
	} else {
		id, err := o.Identity.policy()
		if err != nil {
			return nil, err
		}
		v.policy = sgverify.WithCertificateIdentity(id)
	}
	// A key-signed bundle without a log entry needs no Sigstore at all.
	var tr *root.TrustedRoot
	if !v.keyed || !o.InsecureIgnoreTlog || o.Trust.TrustedRootPath != "" {
		t, err := sign.LoadTrust(o.Trust)
		if err != nil {
			return nil, unreachableHint(err)
		}
		tr = t.Root
	}
	var material root.TrustedMaterial
	switch {
	case tr != nil && keyMaterial != nil:
		material = root.TrustedMaterialCollection{tr, keyMaterial}
	case tr != nil:
		material = tr
	default:
		material = keyMaterial
	}
	var opts []sgverify.VerifierOption
	switch {
	case o.InsecureIgnoreTlog && v.keyed:
		opts = append(opts, sgverify.WithNoObserverTimestamps())
	case o.InsecureIgnoreTlog:
		opts = append(opts, sgverify.WithSignedTimestamps(1))
	case v.keyed:
		opts = append(opts, sgverify.WithTransparencyLog(1), sgverify.WithNoObserverTimestamps())
	default:
		opts = append(opts, sgverify.WithTransparencyLog(1), sgverify.WithObserverTimestamps(1))
	}
	// A trusted root that lists CT logs means certificates carry SCTs.
	if !v.keyed && tr != nil && len(tr.CTLogs()) > 0 {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	sev, err := sgverify.NewVerifier(material, opts...)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("trust material: %w", err))
	}
	v.sev = sev
	if keyMaterial != nil {
		if v.keyOnly, err = sgverify.NewVerifier(keyMaterial, sgverify.WithNoObserverTimestamps()); err != nil {
			return nil, errs.Input(fmt.Errorf("trust material: %w", err))
		}
	}
	return v, nil
}

// unreachableHint words a TUF failure with verify-blob's own flags:
// the shared message also names signing flags it does not have.
func unreachableHint(err error) error {
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.CodeUnreachable {
		return err
	}
	cause := err
	if inner := errors.Unwrap(e.Err); inner != nil {
		cause = inner
	}
	return errs.Unreachable(fmt.Errorf("the public-good Sigstore trusted root could not be fetched through TUF: %w; pass --trusted-root FILE (a trusted_root.json) to verify without it", cause))
}

// loadKey makes trusted material of a PEM public key, offered for any
// key hint: the signature decides whether it signed.
func loadKey(path string) (root.TrustedMaterial, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", errs.Input(fmt.Errorf("read public key: %w", err))
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, "", errs.Input(fmt.Errorf("%s is not a PEM public key: %w; pass the cosign.pub of the signing key", path, err))
	}
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, "", errs.Input(fmt.Errorf("public key %s: %w", path, err))
	}
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return nil, "", errs.Input(fmt.Errorf("public key %s: %w", path, err))
	}
	id := sha256.Sum256(der)
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil }), hex.EncodeToString(id[:]), nil
}

// claims is what an unverified bundle says of itself; it only words
// why verification failed.
type claims struct {
	content   string
	digest    string   // message signature: the signed sha256, hex
	subjects  []string // DSSE: name@sha256:hex
	sums      []string // DSSE: the subjects' sha256s
	notInToto bool
	cert      *certificate.Summary
	entries   int // transparency log entries
}

func claimsOf(b *bundle.Bundle) claims {
	var c claims
	if sc, err := b.SignatureContent(); err == nil {
		if ms := sc.MessageSignatureContent(); ms != nil {
			c.content = ContentMessage
			if ms.DigestAlgorithm() == protocommon.HashAlgorithm_SHA2_256.String() {
				c.digest = hex.EncodeToString(ms.Digest())
			}
		}
	}
	if env, err := b.Envelope(); err == nil && env != nil {
		c.content = ContentDSSE
		st, err := env.Statement()
		if err != nil {
			c.notInToto = true
		}
		for _, s := range st.GetSubject() {
			d := s.GetDigest()["sha256"]
			c.sums = append(c.sums, strings.ToLower(d))
			c.subjects = append(c.subjects, s.GetName()+"@sha256:"+d)
		}
	}
	if es, err := b.TlogEntries(); err == nil {
		c.entries = len(es)
	}
	if vc, err := b.VerificationContent(); err == nil && vc != nil && vc.Certificate() != nil {
		if s, err := certificate.SummarizeCertificate(vc.Certificate()); err == nil {
			c.cert = &s
		}
	}
	return c
}

// explain names the check that failed, most useful fact first: a bundle
// for other content, then the wrong signer, then sigstore-go's reason.
func (v *verifier) explain(b *bundle.Bundle, o VerifyOptions, sum string, err error) *Failure {
	c := claimsOf(b)
	switch {
	case c.content == ContentMessage && c.digest != "" && c.digest != sum:
		return &Failure{"digest", fmt.Sprintf("the bundle signs sha256:%s, but %s has sha256:%s: the file was changed, or the bundle is for another file", c.digest, o.File, sum)}
	case c.content == ContentDSSE && c.notInToto:
		return &Failure{"subject", "the DSSE envelope does not hold an in-toto statement, so it names no file"}
	case c.content == ContentDSSE && !slices.Contains(c.sums, sum):
		return &Failure{"subject", fmt.Sprintf("the statement is about %s, not %s (sha256:%s): the file was changed, or the bundle is for another file", strings.Join(c.subjects, ", "), o.File, sum)}
	case v.keyed && c.cert != nil:
		return &Failure{"key", fmt.Sprintf("the bundle was signed keyless by %s (issuer %s), not with the key in %s", c.cert.SubjectAlternativeName, c.cert.Extensions.Issuer, o.KeyPath)}
	case !v.keyed && c.cert == nil:
		return &Failure{"identity", "the bundle was signed with a key, not a certificate; verify it with --key"}
	case !v.keyed && !matchString(o.Identity.Subject, o.Identity.SubjectRegexp, c.cert.SubjectAlternativeName):
		return &Failure{"identity", fmt.Sprintf("signed by %s, not %s", c.cert.SubjectAlternativeName, o.Identity.subjectString())}
	case !v.keyed && !matchString(o.Identity.Issuer, o.Identity.IssuerRegexp, c.cert.Extensions.Issuer):
		return &Failure{"issuer", fmt.Sprintf("the certificate's OIDC issuer is %s, not %s", c.cert.Extensions.Issuer, o.Identity.issuerString())}
	case !v.keyed && o.Identity.SourceRepository != "" && c.cert.Extensions.SourceRepositoryURI != o.Identity.SourceRepository:
		return &Failure{"identity", fmt.Sprintf("signed from repository %q, not %s", c.cert.Extensions.SourceRepositoryURI, o.Identity.SourceRepository)}
	}
	if v.keyed && !v.signedByKey(b, o.File) {
		return &Failure{"key", "the signature does not verify with the key in " + o.KeyPath}
	}
	msg := err.Error()
	isTlog := strings.Contains(msg, "log inclusion") || strings.Contains(msg, "transparency log")
	switch {
	case isTlog && c.entries == 0:
		return &Failure{"tlog", "the bundle has no transparency log entry; if it was signed without a log on purpose, accept it with --insecure-ignore-tlog"}
	case isTlog:
		return &Failure{"tlog", "its transparency log entry does not verify against the logs of " + v.trusted + " (it was signed with another Sigstore instance, or the entry was altered)"}
	case strings.Contains(msg, "leaf certificate") || strings.Contains(msg, "unknown authority"):
		return &Failure{"certificate", "the signing certificate does not chain to a Fulcio CA of " + v.trusted + ": " + lastCause(msg)}
	case strings.Contains(msg, "timestamp"):
		return &Failure{"timestamp", "no timestamp trusted by " + v.trusted + " shows when it was signed: " + lastCause(msg)}
	}
	return &Failure{"signature", lastCause(msg)}
}

// signedByKey reports whether the key alone verifies the bundle's
// signature over the file, leaving logs and times aside.
func (v *verifier) signedByKey(b *bundle.Bundle, file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = v.keyOnly.Verify(b, sgverify.NewPolicy(sgverify.WithArtifact(f), sgverify.WithKey()))
	return err == nil
}

// lastCause keeps the innermost part of sigstore-go's "context: cause"
// chains, on one line.
func lastCause(m string) string {
	if i := strings.LastIndex(m, ": "); i >= 0 && i+2 < len(m) {
		m = m[i+2:]
	}
	return strings.Join(strings.Fields(m), " ")
}

func (v *verifier) result(b *bundle.Bundle, res *sgverify.VerificationResult, o VerifyOptions, sum string) *Result {
	c := claimsOf(b)
	r := &Result{File: o.File, SHA256: sum, Bundle: o.Bundle, Content: c.content, Verified: true}
	if res.Statement != nil {
		r.PredicateType = res.Statement.GetPredicateType()
		r.Subjects = c.subjects
	}
	switch {
	case res.Signature != nil && res.Signature.Certificate != nil:
		cs := res.Signature.Certificate
		r.Signer = sign.Identity{Subject: cs.SubjectAlternativeName, Issuer: cs.Extensions.Issuer}
	case v.keyed:
		r.Signer = sign.Identity{KeyID: v.keyID}
	}
	for _, ts := range res.VerifiedTimestamps {
		r.Timestamps = append(r.Timestamps, ts.Timestamp.UTC())
	}
	if es, err := b.TlogEntries(); err == nil && len(es) > 0 {
		i := es[0].LogIndex()
		r.LogIndex = &i
	}
	return r
}
