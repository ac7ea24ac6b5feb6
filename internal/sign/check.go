package sign

import (
	"bytes"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Check verifies b with the signer's own trust material and identity:
// it is how harden proves what it just signed, and how it recognises a
// signature it made on an earlier run. It returns the verification
// result (statement, certificate summary, timestamps).
// artifact is the signed message for message signatures, nil for DSSE.
func (s *Signer) Check(b *bundle.Bundle, artifact []byte) (*verify.VerificationResult, error) {
	var vopts []verify.VerifierOption
	switch {
	case len(s.tsas) > 0:
		vopts = append(vopts, verify.WithSignedTimestamps(1))
	case len(s.tlogs) > 0 && s.Keyless():
		vopts = append(vopts, verify.WithIntegratedTimestamps(1))
	case s.Keyless():
		vopts = append(vopts, verify.WithCurrentTime())
	default:
		vopts = append(vopts, verify.WithNoObserverTimestamps())
	}
	if len(s.tlogs) > 0 {
		vopts = append(vopts, verify.WithTransparencyLog(1))
	}
	v, err := verify.NewVerifier(s.material, vopts...)
	if err != nil {
		return nil, fmt.Errorf("set up verifier: %w", err)
	}
	var popt verify.PolicyOption
	if s.Keyless() {
		id, err := verify.NewShortCertificateIdentity(s.identity.Issuer, "", s.identity.Subject, "")
		if err != nil {
			return nil, fmt.Errorf("identity policy: %w", err)
		}
		popt = verify.WithCertificateIdentity(id)
	} else {
		popt = verify.WithKey()
	}
	aopt := verify.WithoutArtifactUnsafe()
	if artifact != nil {
		aopt = verify.WithArtifact(bytes.NewReader(artifact))
	}
	res, err := v.Verify(b, verify.NewPolicy(aopt, popt))
	if err != nil {
		return nil, err
	}
	return res, nil
}

// TrustedMaterial is what the signer verifies against.
func (s *Signer) TrustedMaterial() root.TrustedMaterial { return s.material }
