package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	rekorclient "github.com/sigstore/rekor-tiles/v2/pkg/client"
	rekorwrite "github.com/sigstore/rekor-tiles/v2/pkg/client/write"
	rekorv1 "github.com/sigstore/rekor/pkg/client"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/harden-dev/harden/internal/errs"
)

// Identity is who signs: a certificate identity for keyless signing, or
// a key fingerprint.
type Identity struct {
	Subject  string    `json:"subject,omitempty"` // certificate SAN
	Issuer   string    `json:"issuer,omitempty"`  // OIDC issuer in the certificate
	KeyID    string    `json:"keyId,omitempty"`   // sha256 of the public key (PKIX DER), key-based only
	NotAfter time.Time `json:"notAfter,omitzero"`
}

func (i Identity) String() string {
	if i.KeyID != "" {
		return "key sha256:" + i.KeyID
	}
	return i.Subject + " (issuer " + i.Issuer + ")"
}

// Options configure a Signer. Exactly one of Token (keyless) and Key
// (key-based) is set.
type Options struct {
	Trust     *Trust
	Token     *Token
	Key       signature.SignerVerifier
	Transport http.RoundTripper // for Fulcio and the TSA
	Timeout   time.Duration     // per request; 0 = 30s
	Now       func() time.Time
}

// Signer signs payloads into Sigstore bundles. It holds one key (and,
// keyless, one certificate) for its lifetime, as one signing run should.
// It is safe for concurrent use.
type Signer struct {
	keypair  sgsign.Keypair
	certs    sgsign.CertificateProvider
	tsas     []*sgsign.TimestampAuthority
	tlogs    []sgsign.Transparency
	rekorV   uint32
	material root.TrustedMaterial
	certDER  []byte
	token    string
	identity Identity
}

// New prepares a signer. Keyless, it fetches the certificate at once, so
// that a bad token fails before anything is signed or uploaded.
func New(ctx context.Context, o Options) (*Signer, error) {
	if (o.Token == nil) == (o.Key == nil) {
		return nil, errors.New("internal: sign.New needs exactly one of a token and a key")
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	s := &Signer{}
	var sc *root.SigningConfig
	if o.Trust != nil {
		sc = o.Trust.Config
		if o.Trust.Root != nil {
			s.material = o.Trust.Root
		}
	}
	if sc != nil {
		if err := s.services(sc, now(), timeout, o.Transport); err != nil {
			return nil, err
		}
	}
	if o.Key != nil {
		kp, err := newKeyKeypair(o.Key)
		if err != nil {
			return nil, err
		}
		s.keypair = kp
		s.identity = Identity{KeyID: kp.keyID}
		km := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(o.Key, time.Time{}, time.Time{}), nil
		})
		if s.material != nil {
			s.material = root.TrustedMaterialCollection{s.material, km}
		} else {
			s.material = km
		}
		return s, nil
	}
	if sc == nil {
		return nil, errs.Input(errors.New("keyless signing needs a signing config: pass --signing-config FILE or let harden fetch the public-good one"))
	}
	svc, err := root.SelectService(sc.FulcioCertificateAuthorityURLs(), sgsign.FulcioAPIVersions, now())
	if err != nil {
		return nil, errs.Input(fmt.Errorf("signing config names no usable Fulcio: %w", err))
	}
	kp, err := sgsign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, fmt.Errorf("generate ephemeral key: %w", err)
	}
	s.keypair = kp
	s.token = o.Token.Raw()
	fulcio := sgsign.NewFulcio(&sgsign.FulcioOptions{BaseURL: svc.URL, Timeout: timeout, Retries: 2, Transport: o.Transport})
	der, err := fulcio.GetCertificate(ctx, kp, &sgsign.CertificateProviderOptions{IDToken: s.token})
	if err != nil {
		return nil, s.scrub(fmt.Errorf("get signing certificate from Fulcio %s with the %s: %w; check that the token's issuer is one this Fulcio trusts and that it has not expired",
			svc.URL, o.Token, err))
	}
	s.certDER = der
	s.certs = fixedCert(der)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("Fulcio returned an unreadable certificate: %w", err)
	}
	summary, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("read identity from the Fulcio certificate: %w", err)
	}
	s.identity = Identity{Subject: summary.SubjectAlternativeName, Issuer: summary.Extensions.Issuer, NotAfter: cert.NotAfter}
	return s, nil
}

// services picks the logs and timestamp authorities the config asks for.
func (s *Signer) services(sc *root.SigningConfig, now time.Time, timeout time.Duration, tr http.RoundTripper) error {
	if len(sc.RekorLogURLs()) > 0 {
		logs, err := root.SelectServices(sc.RekorLogURLs(), sc.RekorLogURLsConfig(), sgsign.RekorAPIVersions, now)
		if err != nil {
			return errs.Input(fmt.Errorf("signing config: no usable Rekor log: %w", err))
		}
		for _, l := range logs {
			s.rekorV = l.MajorAPIVersion
			// sigstore-go creates its log client lazily inside the Rekor
			// value, which races when bundles are signed concurrently; so
			// the client is made here, once, and shared.
			ro := &sgsign.RekorOptions{BaseURL: l.URL, Version: l.MajorAPIVersion, Timeout: timeout, Retries: 2}
			switch l.MajorAPIVersion {
			case 2:
				w, err := rekorwrite.NewWriter(l.URL, rekorclient.WithUserAgent("harden"), rekorclient.WithTimeout(timeout))
				if err != nil {
					return errs.Input(fmt.Errorf("signing config: Rekor v2 log %s: %w", l.URL, err))
				}
				ro.ClientV2 = w
			default:
				c, err := rekorv1.GetRekorClient(l.URL, rekorv1.WithUserAgent("harden"), rekorv1.WithRetryCount(2))
				if err != nil {
					return errs.Input(fmt.Errorf("signing config: Rekor log %s: %w", l.URL, err))
				}
				ro.Client = c.Entries
			}
			s.tlogs = append(s.tlogs, sgsign.NewRekor(ro))
		}
	}
	if len(sc.TimestampAuthorityURLs()) > 0 {
		tsas, err := root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), sgsign.TimestampAuthorityAPIVersions, now)
		if err != nil {
			return errs.Input(fmt.Errorf("signing config: no usable timestamp authority: %w", err))
		}
		for _, t := range tsas {
			s.tsas = append(s.tsas, sgsign.NewTimestampAuthority(&sgsign.TimestampAuthorityOptions{URL: t.URL, Timeout: timeout, Retries: 2, Transport: tr}))
		}
	}
	if s.rekorV == 2 && len(s.tsas) == 0 {
		return errs.Input(errors.New("signing config uses a Rekor v2 log but no timestamp authority; Rekor v2 entries carry no time, so add a TSA"))
	}
	return nil
}

// Identity is who this signer signs as.
func (s *Signer) Identity() Identity { return s.identity }

// Keyless reports whether the signer holds a Fulcio certificate.
func (s *Signer) Keyless() bool { return s.certDER != nil }

// CertPEM is the signing certificate (keyless) or nil.
func (s *Signer) CertPEM() []byte {
	if s.certDER == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.certDER})
}

// PublicKeyPEM is the signing public key.
func (s *Signer) PublicKeyPEM() ([]byte, error) {
	p, err := s.keypair.GetPublicKeyPem()
	return []byte(p), err
}

// HasTimestamps reports whether bundles carry RFC 3161 timestamps.
func (s *Signer) HasTimestamps() bool { return len(s.tsas) > 0 }

// RekorVersion is the major API version of the log in use, 0 for none.
func (s *Signer) RekorVersion() uint32 { return s.rekorV }

// DSSE signs payload in a DSSE envelope of payloadType and returns the
// bundle once it verifies (see Signer.bundle).
func (s *Signer) DSSE(ctx context.Context, payloadType string, payload []byte) (*bundle.Bundle, error) {
	return s.DSSEWithSignature(ctx, payloadType, payload, nil)
}

// DSSEWithSignature is DSSE that also hands signed the envelope's
// signature as soon as it is made, before the timestamp authority and
// the log have answered, so that work which needs only the signed
// envelope can overlap the wait for the log. signed is called at most
// once, and not at all when signing fails before a signature exists.
func (s *Signer) DSSEWithSignature(ctx context.Context, payloadType string, payload []byte, signed func(sig []byte)) (*bundle.Bundle, error) {
	return s.bundle(ctx, &sgsign.DSSEData{Data: payload, PayloadType: payloadType}, nil, signed)
}

// Message signs msg as a message signature (hashedrekord).
func (s *Signer) Message(ctx context.Context, msg []byte) (*bundle.Bundle, error) {
	return s.bundle(ctx, &sgsign.PlainData{Data: msg}, msg, nil)
}

// SignRaw signs msg with the signer's key and returns the raw signature;
// legacy cosign storage carries such signatures beside a bundle.
func (s *Signer) SignRaw(ctx context.Context, msg []byte) ([]byte, error) {
	sig, _, err := s.keypair.SignData(ctx, msg)
	return sig, err
}

// Timestamp asks each timestamp authority to timestamp data and returns
// the first response (DER), or nil when the config has no TSA.
func (s *Signer) Timestamp(ctx context.Context, data []byte) ([]byte, error) {
	if len(s.tsas) == 0 {
		return nil, nil
	}
	ts, err := s.tsas[0].GetTimestamp(ctx, data)
	if err != nil {
		return nil, errs.Unreachable(fmt.Errorf("timestamp authority: %w", err))
	}
	return ts, nil
}

// bundle signs content and verifies the result once before returning it:
// against the signer's trusted material, by the signer's own identity,
// with a signed timestamp from every timestamp authority and an entry in
// every log it used (see verifySigned). A bundle that does not verify is
// an *UnverifiedError. artifact is the signed message for message
// signatures, nil for DSSE.
func (s *Signer) bundle(ctx context.Context, content sgsign.Content, artifact []byte, signed func([]byte)) (*bundle.Bundle, error) {
	var kp sgsign.Keypair = s.keypair
	if signed != nil {
		kp = &observedKeypair{Keypair: kp, signed: signed}
	}
	// No TrustedRoot: sigstore-go would verify the bundle without an
	// identity, and verifySigned checks all of that and the identity.
	opts := sgsign.BundleOptions{
		CertificateProvider:  s.certs,
		TimestampAuthorities: s.tsas,
		TransparencyLogs:     s.tlogs,
		Context:              ctx,
	}
	pb, err := sgsign.Bundle(content, kp, opts)
	if err != nil {
		err = s.scrub(fmt.Errorf("sign: %w", err))
		if errs.IsNetwork(err) {
			return nil, errs.Unreachable(err)
		}
		return nil, err
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("sigstore-go produced an invalid bundle: %w", err)
	}
	if err := s.verifySigned(b, artifact); err != nil {
		return nil, &UnverifiedError{Err: s.scrub(err)}
	}
	return b, nil
}

// UnverifiedError is a bundle that was signed but does not verify with
// the signer's own trust material and identity; it must not be used.
type UnverifiedError struct{ Err error }

func (e *UnverifiedError) Error() string { return "the new bundle does not verify: " + e.Err.Error() }
func (e *UnverifiedError) Unwrap() error { return e.Err }

// observedKeypair reports each signature its keypair makes.
type observedKeypair struct {
	sgsign.Keypair
	signed func([]byte)
}

func (k *observedKeypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	sig, digest, err := k.Keypair.SignData(ctx, data)
	if err == nil {
		k.signed(sig)
	}
	return sig, digest, err
}

// scrub removes the identity token from an error's text, in case a
// service or library echoes it back.
func (s *Signer) scrub(err error) error {
	if err == nil || s.token == "" || !strings.Contains(err.Error(), s.token) {
		return err
	}
	return &scrubbed{err: err, token: s.token}
}

type scrubbed struct {
	err   error
	token string
}

func (e *scrubbed) Error() string { return strings.ReplaceAll(e.err.Error(), e.token, "[REDACTED]") }
func (e *scrubbed) Unwrap() error { return e.err }

// fixedCert hands sigstore-go the certificate fetched once in New.
type fixedCert []byte

func (c fixedCert) GetCertificate(context.Context, sgsign.Keypair, *sgsign.CertificateProviderOptions) ([]byte, error) {
	return c, nil
}

// keyKeypair adapts a loaded cosign key to sigstore-go's Keypair.
type keyKeypair struct {
	sv    signature.SignerVerifier
	pub   crypto.PublicKey
	hint  []byte
	keyID string
	algo  signature.AlgorithmDetails
}

func newKeyKeypair(sv signature.SignerVerifier) (*keyKeypair, error) {
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("public key of signing key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	algo, err := signature.GetDefaultAlgorithmDetails(pub)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("unsupported signing key: %w; use an ECDSA P-256 key from harden keygen", err))
	}
	sum := sha256.Sum256(der)
	return &keyKeypair{sv: sv, pub: pub, hint: []byte(hex.EncodeToString(sum[:])), keyID: hex.EncodeToString(sum[:]), algo: algo}, nil
}

func (k *keyKeypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.algo.GetProtoHashType() }
func (k *keyKeypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.algo.GetSignatureAlgorithm()
}
func (k *keyKeypair) GetHint() []byte                { return k.hint }
func (k *keyKeypair) GetKeyAlgorithm() string        { return "ECDSA" }
func (k *keyKeypair) GetPublicKey() crypto.PublicKey { return k.pub }
func (k *keyKeypair) GetPublicKeyPem() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

func (k *keyKeypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	h := k.algo.GetHashType()
	sum := h.New()
	sum.Write(data)
	digest := sum.Sum(nil)
	sig, err := k.sv.SignMessage(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("sign with key: %w", err)
	}
	return sig, digest, nil
}

// MarshalBundle renders a bundle as stable, compact JSON.
func MarshalBundle(b *bundle.Bundle) ([]byte, error) {
	raw, err := b.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	return buf.Bytes(), nil
}
