package sign

import (
	"bytes"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Check verifies b with the signer's own trust material and identity:
// it is how harden recognises a signature it made on an earlier run. It
// needs one signed timestamp (or, keyless without a timestamp authority,
// one integrated time) and one log entry when the signer uses a log. It
// returns the verification result (statement, certificate summary,
// timestamps). artifact is the signed message for message signatures,
// nil for DSSE.
func (s *Signer) Check(b *bundle.Bundle, artifact []byte) (*verify.VerificationResult, error) {
	return s.verify(b, artifact, 1, 1)
}

// verifySigned verifies a bundle this signer has just made: what Check
// verifies, with a signed timestamp from every timestamp authority and an
// entry in every log the signer used, as sigstore-go checks a bundle it
// has made. One pass does both.
func (s *Signer) verifySigned(b *bundle.Bundle, artifact []byte) error {
	_, err := s.verify(b, artifact, len(s.tsas), len(s.tlogs))
	return err
}

// verify checks b against the signer's trusted material and identity,
// requiring tsaN signed timestamps when the signer has a timestamp
// authority and tlogN log entries when it has a log.
func (s *Signer) verify(b *bundle.Bundle, artifact []byte, tsaN, tlogN int) (*verify.VerificationResult, error) {
	var vopts []verify.VerifierOption
	switch {
	case len(s.tsas) > 0:
		vopts = append(vopts, verify.WithSignedTimestamps(tsaN))
	case len(s.tlogs) > 0 && s.Keyless():
		vopts = append(vopts, verify.WithIntegratedTimestamps(tlogN))
	case s.Keyless():
		vopts = append(vopts, verify.WithCurrentTime())
	default:
		vopts = append(vopts, verify.WithNoObserverTimestamps())
	}
	if len(s.tlogs) > 0 {
		vopts = append(vopts, verify.WithTransparencyLog(tlogN))
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
