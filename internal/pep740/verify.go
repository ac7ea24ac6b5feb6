package pep740

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

// Verification failures, for errors.Is. Each comes wrapped with the file,
// the attestation and what was expected and found.
var (
	// ErrVerification: signature, certificate chain, transparency log or
	// timestamps did not verify against the trusted root.
	ErrVerification = errors.New("sigstore verification failed")
	// ErrPublisher: the certificate is not the publisher's, or the
	// publisher is not the one expected.
	ErrPublisher = errors.New("publisher does not match")
	// ErrSubject: the statement is not about this file and digest.
	ErrSubject = errors.New("statement subject does not match")
	// ErrPredicateType: the statement is neither a PyPI publish attestation
	// nor SLSA provenance.
	ErrPredicateType = errors.New("unsupported predicate type")
)

// Options tunes Verify.
type Options struct {
	// Expect pins the publisher every attestation bundle must name (kind,
	// repository, workflow or email; the environment when Expect names
	// one). Nil accepts the publisher the provenance names, once each
	// certificate proves it.
	Expect *Publisher
}

// Result is what Verify established.
type Result struct {
	Filename     string
	SHA256       string
	Attestations []Verified
}

// Verified is one attestation that verified.
type Verified struct {
	Bundle, Index int       // position in the provenance object, from 0
	Publisher     Publisher // as the provenance names it, matched to the certificate
	PredicateType string
	Certificate   CertificateIdentity
	LogEntries    []LogEntry
	// Times are the verified signing times: log integrated times and
	// RFC 3161 timestamps. The certificate was valid at each.
	Times []time.Time
}

// CertificateIdentity is the identity the verified certificate carries.
type CertificateIdentity struct {
	Issuer                 string `json:"issuer"`
	SubjectAlternativeName string `json:"subjectAlternativeName"`
	SourceRepositoryURI    string `json:"sourceRepositoryURI,omitempty"`
	SourceRepositoryRef    string `json:"sourceRepositoryRef,omitempty"`
	SourceRepositoryDigest string `json:"sourceRepositoryDigest,omitempty"`
	BuildConfigURI         string `json:"buildConfigURI,omitempty"`
}

// LogEntry is a transparency log entry whose inclusion verified.
type LogEntry struct {
	LogIndex       int64     `json:"logIndex"`
	IntegratedTime time.Time `json:"integratedTime,omitzero"` // zero for logs without one (Rekor v2)
	LogID          string    `json:"logID"`                   // hex of the log's key ID
	Kind           string    `json:"kind"`
	Version        string    `json:"version"`
}

// Publishers lists the distinct publishers of the verified attestations.
func (r *Result) Publishers() []Publisher {
	var out []Publisher
	for _, v := range r.Attestations {
		if !slices.Contains(out, v.Publisher) {
			out = append(out, v.Publisher)
		}
	}
	return out
}

// PredicateTypes lists the distinct predicate types verified, sorted.
func (r *Result) PredicateTypes() []string {
	var out []string
	for _, v := range r.Attestations {
		if !slices.Contains(out, v.PredicateType) {
			out = append(out, v.PredicateType)
		}
	}
	slices.Sort(out)
	return out
}

// Verify checks every attestation of prov for the distribution file
// filename whose sha256 is sha256hex (as the lock pins it), against the
// trusted root: signature, certificate chain at the log's or timestamp
// authority's time, SCT when the root lists CT logs, transparency log
// inclusion, the publisher's identity in the certificate, exactly one
// subject naming this file with this digest, and a PEP 740 predicate type.
// Every attestation must verify. Bad arguments are errs.Input; any failed
// check is errs.Check wrapping one of the Err* values above.
func Verify(ctx context.Context, prov *Provenance, filename, sha256hex string, trusted root.TrustedMaterial, opts Options) (*Result, error) {
	if prov == nil {
		return nil, errs.Input(errors.New("verify PEP 740 provenance: no provenance given"))
	}
	if tr, ok := trusted.(*root.TrustedRoot); trusted == nil || ok && tr == nil {
		return nil, errs.Input(errors.New("verify PEP 740 provenance: no trusted root given"))
	}
	want, err := parseDistFilename(filename)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("verify PEP 740 provenance: %w", err))
	}
	digest := strings.ToLower(sha256hex)
	if b, err := hex.DecodeString(digest); err != nil || len(b) != 32 {
		return nil, errs.Input(fmt.Errorf("verify PEP 740 provenance of %s: %q is not a sha256 hex digest", filename, sha256hex))
	}
	if opts.Expect != nil {
		if _, err := certificateIdentity(*opts.Expect); err != nil {
			return nil, errs.Input(fmt.Errorf("verify PEP 740 provenance of %s: expected publisher: %w", filename, err))
		}
	}
	v, err := newVerifier(trusted)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("verify PEP 740 provenance of %s: trusted root: %w", filename, err))
	}
	if len(prov.Bundles) == 0 {
		return nil, errs.Check(fmt.Errorf("%s: %w: no attestation bundles", filename, ErrMalformed))
	}
	res := &Result{Filename: filename, SHA256: digest}
	for bi, b := range prov.Bundles {
		if opts.Expect != nil && !samePublisher(*opts.Expect, b.Publisher) {
			return nil, errs.Check(fmt.Errorf("%s: bundle %d: %w: the provenance names %s, expected %s",
				filename, bi+1, ErrPublisher, b.Publisher, *opts.Expect))
		}
		if len(b.Attestations) == 0 {
			return nil, errs.Check(fmt.Errorf("%s: bundle %d: %w: no attestations", filename, bi+1, ErrMalformed))
		}
		for ai := range b.Attestations {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("verify PEP 740 provenance of %s: %w", filename, err)
			}
			vr, err := verifyOne(v, trusted, b.Publisher, &b.Attestations[ai], filename, want, digest)
			if err != nil {
				return nil, errs.Check(fmt.Errorf("%s: attestation %d of bundle %d (publisher %s): %w",
					filename, ai+1, bi+1, b.Publisher, err))
			}
			vr.Bundle, vr.Index = bi, ai
			res.Attestations = append(res.Attestations, *vr)
		}
	}
	return res, nil
}

// newVerifier requires a transparency log entry and a trusted time (the
// log's integrated time or an RFC 3161 timestamp) for every attestation,
// and an SCT when the root lists CT logs.
func newVerifier(trusted root.TrustedMaterial) (*sgverify.Verifier, error) {
	opts := []sgverify.VerifierOption{
		sgverify.WithTransparencyLog(1),
		sgverify.WithObserverTimestamps(1),
		sgverify.WithoutStatementPredicate(),
	}
	if len(trusted.CTLogs()) > 0 {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	return sgverify.NewVerifier(trusted, opts...)
}

func verifyOne(v *sgverify.Verifier, trusted root.TrustedMaterial, pub Publisher, a *Attestation, filename string, want distName, digest string) (*Verified, error) {
	id, err := certificateIdentity(pub)
	if err != nil {
		return nil, err
	}
	sb, err := a.Bundle()
	if err != nil {
		return nil, err
	}
	if err := checkLogsKnown(a, trusted); err != nil {
		return nil, err
	}
	// The subject is checked below, more strictly than sigstore-go's
	// artifact-digest policy would (exactly one subject, its name too).
	r, err := v.Verify(sb, sgverify.NewPolicy(sgverify.WithoutArtifactUnsafe(), sgverify.WithCertificateIdentity(id)))
	if err != nil {
		var nm *sgverify.ErrNoMatchingCertificateIdentity
		if errors.As(err, &nm) {
			// Identity is checked last: the certificate has verified.
			return nil, fmt.Errorf("%w: the provenance names %s, the certificate is %s", ErrPublisher, pub, describeLeaf(a.Certificate))
		}
		return nil, fmt.Errorf("%w: %w", ErrVerification, err)
	}
	if err := checkAllTimestamps(sb, trusted); err != nil {
		return nil, err
	}
	if r.Signature == nil || r.Signature.Certificate == nil || r.Statement == nil {
		return nil, fmt.Errorf("%w: no certificate or statement in the verified result", ErrVerification)
	}
	cert := *r.Signature.Certificate
	if err := checkWorkflow(pub, cert); err != nil {
		return nil, err
	}
	st := r.Statement
	if st.GetType() != inTotoStatementType {
		return nil, fmt.Errorf("%w: statement type %q is not %s", ErrMalformed, st.GetType(), inTotoStatementType)
	}
	if n := len(st.GetSubject()); n != 1 {
		return nil, fmt.Errorf("%w: the statement has %d subjects, PEP 740 allows exactly one", ErrSubject, n)
	}
	sub := st.GetSubject()[0]
	got, err := parseDistFilename(sub.GetName())
	if err != nil {
		return nil, fmt.Errorf("%w: subject name: %v", ErrSubject, err)
	}
	if !got.equal(want) {
		return nil, fmt.Errorf("%w: the statement is about %q, not %q", ErrSubject, sub.GetName(), filename)
	}
	if d := sub.GetDigest()["sha256"]; d != digest {
		return nil, fmt.Errorf("%w: the statement gives %s sha256 %s, the lock has %s", ErrSubject, sub.GetName(), orNone(d), digest)
	}
	pt := st.GetPredicateType()
	if pt != PublishPredicateType && pt != SLSAPredicateType {
		return nil, fmt.Errorf("%w: %q (PEP 740 allows %s and %s)", ErrPredicateType, pt, PublishPredicateType, SLSAPredicateType)
	}
	out := &Verified{
		Publisher:     pub,
		PredicateType: pt,
		Certificate: CertificateIdentity{
			Issuer:                 cert.Issuer,
			SubjectAlternativeName: cert.SubjectAlternativeName,
			SourceRepositoryURI:    cert.SourceRepositoryURI,
			SourceRepositoryRef:    cert.SourceRepositoryRef,
			SourceRepositoryDigest: cert.SourceRepositoryDigest,
			BuildConfigURI:         cert.BuildConfigURI,
		},
	}
	for _, ts := range r.VerifiedTimestamps {
		out.Times = append(out.Times, ts.Timestamp.UTC())
	}
	entries, err := sb.TlogEntries()
	if err != nil {
		return nil, fmt.Errorf("%w: transparency log entries: %w", ErrVerification, err)
	}
	for _, e := range entries {
		le := LogEntry{LogIndex: e.LogIndex(), LogID: hex.EncodeToString([]byte(e.LogKeyID()))}
		if t := e.IntegratedTime(); !t.IsZero() {
			le.IntegratedTime = t.UTC()
		}
		if kv := e.TransparencyLogEntry().GetKindVersion(); kv != nil {
			le.Kind, le.Version = kv.GetKind(), kv.GetVersion()
		}
		out.LogEntries = append(out.LogEntries, le)
	}
	return out, nil
}

// checkLogsKnown names the logs when the trusted root knows none of them;
// sigstore-go would only report too few verified entries.
func checkLogsKnown(a *Attestation, trusted root.TrustedMaterial) error {
	logs := trusted.RekorLogs()
	var ids []string
	for _, e := range a.TransparencyEntries {
		id := hex.EncodeToString(e.GetLogId().GetKeyId())
		if _, ok := logs[id]; ok {
			return nil
		}
		ids = append(ids, id)
	}
	return fmt.Errorf("%w: the trusted root lists none of the transparency logs of its entries (log IDs %s)",
		ErrVerification, strings.Join(ids, ", "))
}

// describeLeaf names the identity of a DER certificate, for messages.
func describeLeaf(der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return "unreadable"
	}
	s, err := certificate.SummarizeCertificate(c)
	if err != nil {
		return "unreadable"
	}
	return describeCert(s)
}

// checkAllTimestamps fails when an RFC 3161 timestamp of the attestation
// does not verify while the root names timestamp authorities: sigstore-go
// counts only the ones that verify.
func checkAllTimestamps(b *bundle.Bundle, trusted root.TrustedMaterial) error {
	if len(trusted.TimestampingAuthorities()) == 0 {
		return nil
	}
	ts, err := b.Timestamps()
	if err != nil || len(ts) == 0 {
		return err
	}
	_, failed, err := sgverify.VerifySignedTimestamp(b, trusted)
	if err == nil {
		err = errors.Join(failed...)
	}
	if err != nil {
		return fmt.Errorf("%w: RFC 3161 timestamp: %w", ErrVerification, err)
	}
	return nil
}
