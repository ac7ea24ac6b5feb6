package verify

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/cosign/v3/pkg/oci/empty"
	ocimutate "github.com/sigstore/cosign/v3/pkg/oci/mutate"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"golang.org/x/sync/errgroup"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/registry"
)

// CosignSignPredicateType marks bundle-format image signatures.
const CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"

// kindSignature is what a rejected entry claims to be when it is an
// image signature rather than an attestation.
const kindSignature = "signature"

// Verified is one signature or attestation that passed cryptographic
// verification for a subject. Everything in it comes from the verified
// bundle or entry, never from registry metadata.
type Verified struct {
	Subject       string         `json:"subject"`
	Layout        string         `json:"layout"`
	Entry         string         `json:"entry"` // referrer manifest or legacy layer digest
	PredicateType string         `json:"predicateType,omitempty"`
	Identity      SignerIdentity `json:"identity"`
	KeyID         string         `json:"keyId,omitempty"`
	Timestamps    []string       `json:"timestamps"`
	LogIndex      *int64         `json:"logIndex,omitempty"`
	// IntegratedTime is when a Rekor v1 log took the entry (RFC 3339);
	// Rekor v2 entries have none and rely on an RFC 3161 timestamp.
	IntegratedTime string         `json:"integratedTime,omitempty"`
	Statement      map[string]any `json:"statement,omitempty"`
	signedAt       time.Time
	isSig          bool // an image signature, not an attestation
}

// SignerIdentity is what the certificate says.
type SignerIdentity struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
}

// rejected is an entry that is well formed but did not verify for the
// subject. kind and signer are what the entry claims, unverified: they
// only route and word the message of the check it would have served.
type rejected struct {
	layout string
	entry  string
	kind   string // kindSignature or a predicate type; "" unknown
	reason string
}

// entryResult is the outcome of one entry; skip marks one no check needs.
type entryResult struct {
	ok   *Verified
	rej  *rejected
	ign  *attach.Ignored
	skip bool
}

// verifyTarget verifies every entry attached to t on its own: one
// entry's failure never stops the others. The verified entries are kept
// in an order that does not depend on the registry's listing.
func (v *verifier) verifyTarget(ctx context.Context, t *target) {
	digest, err := hex.DecodeString(strings.TrimPrefix(t.ref.DigestStr(), "sha256:"))
	if err != nil {
		t.ignored = append(t.ignored, attach.Ignored{Subject: t.ref.DigestStr(), Reason: "subject digest is not sha256"})
		return
	}
	h, _ := v1.NewHash(t.ref.DigestStr())
	f := t.found
	t.ignored = append(t.ignored, f.Ignored...)
	res := make([]entryResult, len(f.Referrers)+len(f.Signatures)+len(f.Attestations))
	var g errgroup.Group
	g.SetLimit(4)
	for i, r := range f.Referrers {
		g.Go(func() error { res[i] = v.referrer(t, r, digest); return nil })
	}
	sigs, atts := res[len(f.Referrers):], res[len(f.Referrers)+len(f.Signatures):]
	for i, s := range f.Signatures {
		g.Go(func() error { sigs[i] = v.legacyEntry(ctx, t, s, h, false); return nil })
	}
	for i, s := range f.Attestations {
		g.Go(func() error { atts[i] = v.legacyEntry(ctx, t, s, h, true); return nil })
	}
	_ = g.Wait()
	for _, r := range res {
		switch {
		case r.ok != nil && r.ok.isSig:
			r.ok.Statement = nil
			r.ok.PredicateType = ""
			t.sigs = append(t.sigs, *r.ok)
		case r.ok != nil:
			t.atts = append(t.atts, *r.ok)
		case r.rej != nil:
			t.rejected = append(t.rejected, *r.rej)
		case r.ign != nil:
			t.ignored = append(t.ignored, *r.ign)
		case r.skip:
			t.skipped++
		}
	}
	sortVerified(t.sigs)
	sortVerified(t.atts)
	sort.Slice(t.rejected, func(a, b int) bool {
		ra, rb := t.rejected[a], t.rejected[b]
		if ra.layout != rb.layout {
			return ra.layout > rb.layout // referrers first
		}
		return ra.entry < rb.entry
	})
}

// sortVerified orders candidates newest first (by their verified
// signing time), then by layout and entry digest.
func sortVerified(vs []Verified) {
	sort.SliceStable(vs, func(a, b int) bool {
		va, vb := vs[a], vs[b]
		if !va.signedAt.Equal(vb.signedAt) {
			return va.signedAt.After(vb.signedAt)
		}
		if va.Layout != vb.Layout {
			return va.Layout > vb.Layout
		}
		return va.Entry < vb.Entry
	})
}

func (v *verifier) referrer(t *target, r attach.FoundReferrer, digest []byte) entryResult {
	entry := r.Digest.String()
	ignore := func(format string, a ...any) entryResult {
		return entryResult{ign: &attach.Ignored{Subject: t.ref.DigestStr(), Layout: attach.LayoutReferrers, Entry: entry, Reason: fmt.Sprintf(format, a...)}}
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(r.Bundle); err != nil {
		return ignore("not a Sigstore bundle: %s", firstLine(err.Error()))
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return ignore("the bundle holds a message signature; image signatures and attestations are DSSE in-toto statements")
	}
	// SBOMs are checked per platform. An index's copies are skipped by
	// the claim in their payload: the claim is signed, so a false one
	// could not have verified, and a true one would not be used.
	if t.platform == "" && isSBOM(claimOf(env.GetPayload(), nil).kind) {
		return entryResult{skip: true}
	}
	vr, err := v.verifyBundle(&b, digest)
	if err == nil {
		vr.Subject, vr.Layout, vr.Entry = t.ref.DigestStr(), attach.LayoutReferrers, entry
		vr.isSig = vr.PredicateType == CosignSignPredicateType
		return entryResult{ok: vr}
	}
	c := claimOf(env.GetPayload(), bundleCert(&b))
	return entryResult{rej: &rejected{layout: attach.LayoutReferrers, entry: entry, kind: c.kind, reason: v.rejection(c, t.ref.DigestStr(), err)}}
}

// verifyBundle verifies a Sigstore bundle for the subject digest.
func (v *verifier) verifyBundle(b *bundle.Bundle, digest []byte) (*Verified, error) {
	var popt sgverify.PolicyOption
	if v.key != nil {
		popt = sgverify.WithKey()
	} else {
		id, err := v.o.Identity.policy()
		if err != nil {
			return nil, err
		}
		popt = sgverify.WithCertificateIdentity(id)
	}
	res, err := v.sev.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", digest), popt))
	if err != nil {
		return nil, err
	}
	out := &Verified{}
	if res.Statement != nil {
		// The verified envelope's payload is the statement as signed;
		// decoding it directly is cheaper than re-encoding the protobuf.
		env, err := b.Envelope()
		if err != nil {
			return nil, err
		}
		body, err := env.DecodeB64Payload()
		if err != nil {
			return nil, fmt.Errorf("statement payload: %w", err)
		}
		if err := json.Unmarshal(body, &out.Statement); err != nil {
			return nil, fmt.Errorf("statement payload: %w", err)
		}
		out.PredicateType = res.Statement.GetPredicateType()
	}
	if res.Signature != nil && res.Signature.Certificate != nil {
		out.Identity = SignerIdentity{Subject: res.Signature.Certificate.SubjectAlternativeName, Issuer: res.Signature.Certificate.Extensions.Issuer}
	}
	for _, ts := range res.VerifiedTimestamps {
		out.Timestamps = append(out.Timestamps, ts.Timestamp.UTC().Format(time.RFC3339))
		if out.signedAt.IsZero() || ts.Timestamp.Before(out.signedAt) {
			out.signedAt = ts.Timestamp
		}
	}
	if es, err := b.TlogEntries(); err == nil && len(es) > 0 {
		i := es[0].LogIndex()
		out.LogIndex = &i
		if t := es[0].IntegratedTime(); !t.IsZero() && t.Unix() > 0 {
			out.IntegratedTime = t.UTC().Format(time.RFC3339)
		}
	}
	return out, nil
}

func bundleCert(b *bundle.Bundle) *x509.Certificate {
	vc, err := b.VerificationContent()
	if err != nil || vc == nil {
		return nil
	}
	return vc.Certificate()
}

// legacyEntry verifies one cosign .sig or .att layer with cosign's own
// verifier, which is what reads that layout in the wider ecosystem.
func (v *verifier) legacyEntry(ctx context.Context, t *target, s oci.Signature, h v1.Hash, att bool) entryResult {
	entry := "legacy entry"
	if d, err := s.Digest(); err == nil {
		entry = d.String()
	}
	payload, err := s.Payload()
	if err != nil {
		ig := attach.Ignored{Subject: t.ref.DigestStr(), Layout: attach.LayoutLegacy, Entry: entry, Reason: "unreadable: " + firstLine(err.Error())}
		if registry.IsIntegrity(err) {
			ig.Integrity, ig.Reason = true, "content does not match its digest"
		}
		return entryResult{ign: &ig}
	}
	if att && t.platform == "" && isSBOM(claimOf(envelopeStatement(payload), nil).kind) {
		return entryResult{skip: true}
	}
	co := v.checkOpts(att)
	if att {
		var sigs oci.Signatures
		if sigs, err = ocimutate.AppendSignatures(empty.Signatures(), false, s); err == nil {
			_, _, err = cosign.VerifyImageAttestation(ctx, sigs, h, co)
		}
	} else {
		_, err = cosign.VerifyImageSignature(ctx, s, h, co)
	}
	cert, _ := s.Cert()
	if err != nil {
		c := legacyClaim(payload, cert, att)
		return entryResult{rej: &rejected{layout: attach.LayoutLegacy, entry: entry, kind: c.kind, reason: v.rejection(c, t.ref.DigestStr(), err)}}
	}
	vr := &Verified{Subject: t.ref.DigestStr(), Layout: attach.LayoutLegacy, Entry: entry, isSig: !att}
	if cert != nil {
		if sum, err := certificate.SummarizeCertificate(cert); err == nil {
			vr.Identity = SignerIdentity{Subject: sum.SubjectAlternativeName, Issuer: sum.Extensions.Issuer}
		}
	}
	if b, err := s.Bundle(); err == nil && b != nil {
		i := b.Payload.LogIndex
		vr.LogIndex = &i
		if b.Payload.IntegratedTime > 0 {
			it := time.Unix(b.Payload.IntegratedTime, 0).UTC()
			vr.IntegratedTime, vr.signedAt = it.Format(time.RFC3339), it
		}
	}
	if co.UseSignedTimestamps {
		if ts, err := cosign.VerifyRFC3161Timestamp(s, co); err == nil && ts != nil {
			vr.Timestamps = append(vr.Timestamps, ts.Time.UTC().Format(time.RFC3339))
			if vr.signedAt.IsZero() {
				vr.signedAt = ts.Time
			}
		}
	}
	if att {
		body := envelopeStatement(payload)
		if json.Unmarshal(body, &vr.Statement) != nil {
			return entryResult{ign: &attach.Ignored{Subject: t.ref.DigestStr(), Layout: attach.LayoutLegacy, Entry: entry, Reason: "the verified envelope does not hold a JSON statement"}}
		}
		vr.PredicateType, _ = vr.Statement["predicateType"].(string)
		if vr.PredicateType == "" {
			vr.PredicateType = "unknown"
		}
	}
	return entryResult{ok: vr}
}

// envelopeStatement is the decoded payload of a DSSE envelope in JSON
// (a cosign .att layer), or nil.
func envelopeStatement(raw []byte) []byte {
	var env struct {
		Payload []byte `json:"payload"` // base64, decoded by encoding/json
	}
	if json.Unmarshal(raw, &env) != nil {
		return nil
	}
	return env.Payload
}

// checkOpts are cosign's options for one kind of legacy entry.
func (v *verifier) checkOpts(att bool) *cosign.CheckOpts {
	co := &cosign.CheckOpts{
		TrustedMaterial: v.material,
		IgnoreTlog:      v.o.InsecureIgnoreTlog,
		Offline:         true,
		IgnoreSCT:       v.trusted == nil || len(v.trusted.CTLogs()) == 0,
		ClaimVerifier:   cosign.SimpleClaimVerifier,
	}
	if att {
		co.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
	}
	if v.o.InsecureIgnoreTlog && v.key == nil {
		co.UseSignedTimestamps = true
	}
	if v.key != nil {
		co.SigVerifier = v.keyV
	} else {
		co.Identities = []cosign.Identity{{Issuer: v.o.Identity.Issuer, Subject: v.o.Identity.Subject, SubjectRegExp: v.o.Identity.SubjectRegexp}}
	}
	return co
}

// claim is what an entry says about itself before verification.
type claim struct {
	kind     string   // kindSignature, a predicate type, or ""
	subjects []string // sha256:… digests it names
	cert     *certificate.Summary
}

func summarizeCert(c *x509.Certificate) *certificate.Summary {
	if c == nil {
		return nil
	}
	s, err := certificate.SummarizeCertificate(c)
	if err != nil {
		return nil
	}
	return &s
}

// claimOf reads an in-toto statement payload without trusting it.
func claimOf(payload []byte, cert *x509.Certificate) claim {
	c := claim{cert: summarizeCert(cert)}
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if json.Unmarshal(payload, &st) != nil {
		return c
	}
	c.kind = st.PredicateType
	if c.kind == CosignSignPredicateType {
		c.kind = kindSignature
	}
	for _, s := range st.Subject {
		if h := s.Digest["sha256"]; h != "" {
			c.subjects = append(c.subjects, "sha256:"+h)
		}
	}
	return c
}

func legacyClaim(payload []byte, cert *x509.Certificate, att bool) claim {
	if att {
		return claimOf(envelopeStatement(payload), cert)
	}
	c := claim{kind: kindSignature, cert: summarizeCert(cert)}
	var ss struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
		} `json:"critical"`
	}
	if json.Unmarshal(payload, &ss) == nil && ss.Critical.Image.Digest != "" {
		c.subjects = []string{ss.Critical.Image.Digest}
	}
	return c
}

// rejection words why an entry did not verify, most useful fact first:
// who signed it when that is not who was expected, then whether it is
// about another image, then the verifier's own reason.
func (v *verifier) rejection(c claim, subject string, err error) string {
	if v.key == nil && c.cert != nil && !v.o.Identity.matches(*c.cert) {
		s := "signed by " + c.cert.SubjectAlternativeName + " (issuer " + c.cert.Extensions.Issuer + ")"
		if v.o.Identity.SourceRepository != "" && c.cert.Extensions.SourceRepositoryURI != v.o.Identity.SourceRepository {
			s += " from " + orNone(c.cert.Extensions.SourceRepositoryURI)
		}
		return s
	}
	if len(c.subjects) > 0 && !contains(c.subjects, subject) {
		return "about another image (" + short(c.subjects[0]) + ")"
	}
	msg := err.Error()
	switch {
	case v.key != nil && c.cert != nil:
		return "signed with a certificate, not the given key"
	case strings.Contains(msg, "offline verification failed") && !v.o.InsecureIgnoreTlog:
		return "no transparency log entry (cosign's legacy layout cannot hold a Rekor v2 entry; use the referrers layout, or accept the RFC 3161 timestamp with --insecure-ignore-tlog)"
	case strings.Contains(msg, "log inclusion") || strings.Contains(msg, "transparency log"):
		return "its transparency log entry does not verify against the logs of the trusted root (another Sigstore instance, or an altered entry)"
	case strings.Contains(msg, "certificate") && (strings.Contains(msg, "chain") || strings.Contains(msg, "unknown authority")):
		return "its certificate does not chain to a Fulcio CA of the trusted root"
	case strings.Contains(msg, "timestamp"):
		return "no trusted timestamp shows the certificate was valid when it signed"
	}
	return firstLine(lastCause(msg))
}

// lastCause keeps the innermost part of a chain of "context: cause"
// messages that sigstore-go and cosign build.
func lastCause(m string) string {
	for _, sep := range []string{"last error: ", "error verifying bundle: "} {
		if i := strings.LastIndex(m, sep); i >= 0 {
			m = m[i+len(sep):]
		}
	}
	return m
}

func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "no source repository"
	}
	return s
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func isSBOM(pt string) bool {
	return pt == SPDXPredicateType || pt == SPDX23PredicateType || pt == CycloneDXPredicateType
}
