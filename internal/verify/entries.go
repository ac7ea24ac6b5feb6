package verify

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/harden-dev/harden/internal/attach"
)

// CosignSignPredicateType marks bundle-format image signatures.
const CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"

// Verified is one signature or attestation that passed cryptographic
// verification for a subject.
type Verified struct {
	Subject       string         `json:"subject"`
	Layout        string         `json:"layout"`
	PredicateType string         `json:"predicateType,omitempty"`
	Identity      SignerIdentity `json:"identity"`
	KeyID         string         `json:"keyId,omitempty"`
	Timestamps    []string       `json:"timestamps"`
	LogIndex      *int64         `json:"logIndex,omitempty"`
	// IntegratedTime is when a Rekor v1 log took the entry (RFC 3339);
	// Rekor v2 entries have none and rely on an RFC 3161 timestamp.
	IntegratedTime string         `json:"integratedTime,omitempty"`
	Statement      map[string]any `json:"statement,omitempty"`
}

// SignerIdentity is what the certificate says.
type SignerIdentity struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
}

// verifyTarget checks every entry attached to t, keeping those that
// verify and noting why the others did not.
func (v *verifier) verifyTarget(ctx context.Context, t *target) {
	hexd := strings.TrimPrefix(t.ref.DigestStr(), "sha256:")
	digest, err := hex.DecodeString(hexd)
	if err != nil {
		t.errs = append(t.errs, "subject digest is not sha256")
		return
	}
	for _, r := range t.found.Referrers {
		// SBOMs are checked on platform manifests; the copies attached to
		// the index need not be verified twice.
		if t.platform == "" && isSBOM(r.Annotations[attach.AnnotationPredType]) {
			continue
		}
		vr, err := v.verifyBundle(r.Bundle, digest)
		if err != nil {
			t.errs = append(t.errs, "bundle: "+err.Error())
			continue
		}
		vr.Subject, vr.Layout = t.ref.DigestStr(), "referrers"
		if vr.PredicateType == CosignSignPredicateType {
			vr.Statement = nil
			t.sigs = append(t.sigs, *vr)
		} else {
			t.atts = append(t.atts, *vr)
		}
	}
	// cosign's legacy verifier does its own registry round trips; run
	// both kinds at once.
	var sigs, atts []Verified
	var sigErr, attErr error
	var wg sync.WaitGroup
	if len(t.found.Signatures) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); sigs, sigErr = v.legacy(ctx, t.ref, false) }()
	}
	if len(t.found.Attestations) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); atts, attErr = v.legacy(ctx, t.ref, true) }()
	}
	wg.Wait()
	if sigErr != nil {
		t.errs = append(t.errs, "cosign .sig: "+sigErr.Error())
	}
	if attErr != nil {
		t.errs = append(t.errs, "cosign .att: "+attErr.Error())
	}
	t.sigs = append(t.sigs, sigs...)
	t.atts = append(t.atts, atts...)
}

func (v *verifier) verifierOptions() []sgverify.VerifierOption {
	var opts []sgverify.VerifierOption
	if v.o.InsecureIgnoreTlog {
		if v.key != nil {
			opts = append(opts, sgverify.WithNoObserverTimestamps())
		} else {
			opts = append(opts, sgverify.WithSignedTimestamps(1))
		}
		return opts
	}
	opts = append(opts, sgverify.WithTransparencyLog(1))
	if v.key != nil {
		opts = append(opts, sgverify.WithNoObserverTimestamps())
	} else {
		opts = append(opts, sgverify.WithObserverTimestamps(1))
	}
	if v.trusted != nil && len(v.trusted.CTLogs()) > 0 && v.key == nil {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	return opts
}

// verifyBundle verifies a Sigstore bundle for the subject digest.
func (v *verifier) verifyBundle(raw []byte, digest []byte) (*Verified, error) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	if b.GetDsseEnvelope() == nil {
		return nil, fmt.Errorf("bundle holds a message signature; image signatures and attestations are DSSE in-toto statements")
	}
	sev, err := sgverify.NewVerifier(v.material, v.verifierOptions()...)
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
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
	res, err := sev.Verify(&b, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", digest), popt))
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

// legacy verifies cosign's .sig or .att entries with cosign's own
// verifier, which is what reads that layout in the wider ecosystem.
func (v *verifier) legacy(ctx context.Context, ref name.Digest, att bool) ([]Verified, error) {
	co := &cosign.CheckOpts{
		RegistryClientOpts: []ociremote.Option{ociremote.WithRemoteOptions(v.o.Registry.Remote(ctx)...)},
		TrustedMaterial:    v.material,
		IgnoreTlog:         v.o.InsecureIgnoreTlog,
		Offline:            true,
		IgnoreSCT:          v.trusted == nil || len(v.trusted.CTLogs()) == 0,
		ClaimVerifier:      cosign.SimpleClaimVerifier,
	}
	if v.o.InsecureIgnoreTlog && v.key == nil {
		co.UseSignedTimestamps = true
	}
	if v.key != nil {
		co.SigVerifier = v.keyV
	} else {
		co.Identities = []cosign.Identity{{Issuer: v.o.Identity.Issuer, Subject: v.o.Identity.Subject, SubjectRegExp: v.o.Identity.SubjectRegexp}}
	}
	var sigs []oci.Signature
	var err error
	if att {
		co.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
		sigs, _, err = cosign.VerifyImageAttestations(ctx, ref, co)
	} else {
		sigs, _, err = cosign.VerifyImageSignatures(ctx, ref, co)
	}
	if err != nil {
		if !v.o.InsecureIgnoreTlog && strings.Contains(err.Error(), "offline verification failed") {
			return nil, fmt.Errorf("%w (no transparency log entry: cosign's legacy layout cannot hold a Rekor v2 entry; use the referrers layout, or accept the RFC 3161 timestamp with --insecure-ignore-tlog)", err)
		}
		return nil, err
	}
	var out []Verified
	for _, s := range sigs {
		vr := Verified{Subject: ref.DigestStr(), Layout: "legacy"}
		if c, err := s.Cert(); err == nil && c != nil {
			if sum, err := certificate.SummarizeCertificate(c); err == nil {
				vr.Identity = SignerIdentity{Subject: sum.SubjectAlternativeName, Issuer: sum.Extensions.Issuer}
			}
		}
		if b, err := s.Bundle(); err == nil && b != nil {
			i := b.Payload.LogIndex
			vr.LogIndex = &i
			if b.Payload.IntegratedTime > 0 {
				vr.IntegratedTime = time.Unix(b.Payload.IntegratedTime, 0).UTC().Format(time.RFC3339)
			}
		}
		if att {
			p, err := s.Payload()
			if err != nil {
				continue
			}
			var env struct {
				Payload string `json:"payload"`
			}
			if json.Unmarshal(p, &env) != nil {
				continue
			}
			body, err := base64.StdEncoding.DecodeString(env.Payload)
			if err != nil || json.Unmarshal(body, &vr.Statement) != nil {
				continue
			}
			vr.PredicateType, _ = vr.Statement["predicateType"].(string)
		}
		out = append(out, vr)
	}
	return out, nil
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
