package attest

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	cbundle "github.com/sigstore/cosign/v3/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/harden-dev/harden/internal/attach"
)

// envelopeJSON is the DSSE envelope of b as cosign's .att layers hold it.
func envelopeJSON(b *bundle.Bundle) ([]byte, error) {
	env, err := b.Envelope()
	if err != nil || env == nil {
		return nil, fmt.Errorf("bundle holds no DSSE envelope")
	}
	out, err := json.Marshal(env.RawEnvelope())
	if err != nil {
		return nil, fmt.Errorf("encode DSSE envelope: %w", err)
	}
	return out, nil
}

// legacyLayer converts a signed job into cosign's tag layout.
func (a *Attester) legacyLayer(j *job) (attach.LegacyLayer, error) {
	l := attach.LegacyLayer{CertPEM: a.Signer.CertPEM(), PredicateType: j.predType}
	pb := j.bundle.Bundle
	if es := pb.GetVerificationMaterial().GetTlogEntries(); len(es) > 0 && es[0].GetInclusionPromise() != nil {
		e := es[0]
		l.RekorBundle = &cbundle.RekorBundle{
			SignedEntryTimestamp: e.GetInclusionPromise().GetSignedEntryTimestamp(),
			Payload: cbundle.RekorPayload{
				Body:           e.GetCanonicalizedBody(),
				IntegratedTime: e.GetIntegratedTime(),
				LogIndex:       e.GetLogIndex(),
				LogID:          hex.EncodeToString(e.GetLogId().GetKeyId()),
			},
		}
	}
	if j.dsse {
		env, err := envelopeJSON(j.bundle)
		if err != nil {
			return l, err
		}
		l.Payload = env
		l.Timestamp = j.tsLegacy
		return l, nil
	}
	ms := pb.GetMessageSignature()
	if ms == nil {
		return l, fmt.Errorf("bundle holds no message signature")
	}
	l.Payload = j.payload
	l.Signature = ms.GetSignature()
	if ts := pb.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps(); len(ts) > 0 {
		l.Timestamp = ts[0].GetSignedTimestamp()
	}
	return l, nil
}

// legacyDupe recognises an existing cosign entry as this signer's own:
// same content, a valid signature, and the same identity (a certificate
// chaining to the trusted Fulcio with the same SAN and issuer, or the
// same key).
func (a *Attester) legacyDupe(att bool) attach.Dupe {
	return func(existing, fresh oci.Signature) bool {
		got, err := existing.Payload()
		if err != nil {
			return false
		}
		want, err := fresh.Payload()
		if err != nil {
			return false
		}
		gotBody, env := legacyContent(got, att)
		wantBody, _ := legacyContent(want, att)
		if gotBody == nil || !a.sameFact(att, gotBody, wantBody) {
			return false
		}
		pub, ok := a.legacySigner(existing)
		if !ok {
			return false
		}
		v, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			return false
		}
		if att {
			if env == nil || len(env.Signatures) != 1 {
				return false
			}
			sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
			if err != nil {
				return false
			}
			return v.VerifySignature(bytesReader(sig), bytesReader(dsse.PAE(env.PayloadType, gotBody))) == nil
		}
		b64, err := existing.Base64Signature()
		if err != nil {
			return false
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return false
		}
		return v.VerifySignature(bytesReader(sig), bytesReader(got)) == nil
	}
}

// legacyContent is what a legacy entry says: the statement inside a
// .att envelope, or the simple-signing payload itself.
func legacyContent(p []byte, att bool) ([]byte, *dsse.Envelope) {
	if !att {
		return p, nil
	}
	var env dsse.Envelope
	if err := json.Unmarshal(p, &env); err != nil || env.PayloadType == "" {
		return p, nil // a statement not yet enveloped
	}
	body, err := env.DecodeB64Payload()
	if err != nil {
		return nil, nil
	}
	return body, &env
}

// legacySigner returns the public key that must have made existing, if
// existing was made by this signer's identity.
func (a *Attester) legacySigner(existing oci.Signature) (crypto.PublicKey, bool) {
	if !a.Signer.Keyless() {
		p, err := a.Signer.PublicKeyPEM()
		if err != nil {
			return nil, false
		}
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(p)
		return pub, err == nil
	}
	cert, err := existing.Cert()
	if err != nil || cert == nil {
		return nil, false
	}
	sum, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, false
	}
	id := a.Signer.Identity()
	if sum.SubjectAlternativeName != id.Subject || sum.Extensions.Issuer != id.Issuer {
		return nil, false
	}
	if _, err := verify.VerifyLeafCertificate(cert.NotBefore, cert, a.Signer.TrustedMaterial()); err != nil {
		return nil, false
	}
	return cert.PublicKey, true
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
