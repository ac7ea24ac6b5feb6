// Package conformance implements the verifying side of the Sigstore
// conformance client protocol (github.com/sigstore/sigstore-conformance):
// verify-bundle checks a Sigstore bundle against an artifact or its
// digest, an exact certificate identity or a public key, and a trusted
// root. It is built on sigstore-go's bundle, root and verify packages and
// is strict: a transparency-log entry, an observer timestamp and, for
// certificates, an SCT (when the trusted root has CT logs) are required.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/harden-dev/harden/internal/errs"
)

// Params are the inputs of verify-bundle. Either CertificateIdentity and
// CertificateOIDCIssuer (keyless) or KeyPath (managed key) must be set.
type Params struct {
	// BundlePath is the Sigstore bundle (JSON) to verify.
	BundlePath string
	// CertificateIdentity is the exact subject alternative name the
	// signing certificate must carry.
	CertificateIdentity string
	// CertificateOIDCIssuer is the exact OIDC issuer the signing
	// certificate must carry.
	CertificateOIDCIssuer string
	// KeyPath is a PEM public key that signed the bundle.
	KeyPath string
	// TrustedRootPath is a Sigstore trusted_root.json. Empty means the
	// public-good trusted root, fetched through TUF.
	TrustedRootPath string
	// Artifact is the signed file, or its digest as sha256:<64 hex> when
	// that is not an existing path.
	Artifact string
}

// validate checks that p is a well-formed request (usage errors, exit 2).
func (p Params) validate() error {
	keyless := p.CertificateIdentity != "" || p.CertificateOIDCIssuer != ""
	switch {
	case p.BundlePath == "":
		return errs.Input(errors.New("no bundle: pass --bundle FILE"))
	case p.Artifact == "":
		return errs.Input(errors.New("no artifact: pass the signed FILE or its sha256:<hex> digest"))
	case p.KeyPath != "" && keyless:
		return errs.Input(errors.New("--key cannot be combined with --certificate-identity or --certificate-oidc-issuer: pass one or the other"))
	case p.KeyPath == "" && (p.CertificateIdentity == "" || p.CertificateOIDCIssuer == ""):
		return errs.Input(errors.New("keyless verification needs both --certificate-identity and --certificate-oidc-issuer; for a key-signed bundle pass --key FILE"))
	}
	return nil
}

// VerifyBundle verifies the bundle named by p. A failed check is
// classified errs.Check (exit 1) and names the check; unusable inputs are
// errs.Input (exit 2); an unreachable TUF repository is errs.Unreachable.
func VerifyBundle(ctx context.Context, p Params) error {
	if err := p.validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("verify bundle %s: %w", p.BundlePath, err)
	}
	// Local inputs first, so a usage mistake is reported as one before
	// anything is fetched or verified.
	var keyMaterial root.TrustedMaterial
	if p.KeyPath != "" {
		km, err := loadKey(p.KeyPath)
		if err != nil {
			return err
		}
		keyMaterial = km
	}
	artifact, closeArtifact, err := artifactPolicy(p.Artifact)
	if err != nil {
		return err
	}
	defer closeArtifact()
	tr, err := loadTrustedRoot(p.TrustedRootPath)
	if err != nil {
		return err
	}
	b, err := loadBundle(p.BundlePath)
	if err != nil {
		return err
	}

	var material root.TrustedMaterial = tr
	var identity verify.PolicyOption
	// Every bundle must be in a trusted transparency log and have a
	// trusted time (a log's integrated time or an RFC 3161 timestamp).
	opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	if keyMaterial != nil {
		material = root.TrustedMaterialCollection{keyMaterial, tr}
		identity = verify.WithKey()
	} else {
		id, err := verify.NewShortCertificateIdentity(p.CertificateOIDCIssuer, "", p.CertificateIdentity, "")
		if err != nil {
			return errs.Input(fmt.Errorf("certificate identity %q from issuer %q: %w", p.CertificateIdentity, p.CertificateOIDCIssuer, err))
		}
		identity = verify.WithCertificateIdentity(id)
		// A trusted root that lists CT logs means certificates must carry
		// a verifiable SCT.
		if len(tr.CTLogs()) > 0 {
			opts = append(opts, verify.WithSignedCertificateTimestamps(1))
		}
	}

	v, err := verify.NewVerifier(material, opts...)
	if err != nil {
		return fmt.Errorf("set up verifier: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("verify bundle %s: %w", p.BundlePath, err)
	}
	if _, err := v.Verify(b, verify.NewPolicy(artifact, identity)); err != nil {
		return errs.Check(fmt.Errorf("bundle %s did not verify: %w", p.BundlePath, err))
	}
	if err := checkAllTimestamps(b, material); err != nil {
		return errs.Check(fmt.Errorf("bundle %s did not verify: %w", p.BundlePath, err))
	}
	return nil
}

// checkAllTimestamps fails when any RFC 3161 timestamp in the bundle does
// not verify while the trusted root names TSAs. sigstore-go's
// observer-timestamp check only counts the ones that verify; the Sigstore
// client spec says verification must abort when a timestamp fails.
func checkAllTimestamps(b *bundle.Bundle, material root.TrustedMaterial) error {
	if len(material.TimestampingAuthorities()) == 0 {
		return nil
	}
	ts, err := b.Timestamps()
	if err != nil || len(ts) == 0 {
		return err
	}
	_, failed, err := verify.VerifySignedTimestamp(b, material)
	if err == nil {
		err = errors.Join(failed...)
	}
	if err != nil {
		return fmt.Errorf("RFC 3161 timestamp did not verify: %w", err)
	}
	return nil
}

// loadTrustedRoot reads path, or fetches the public-good root through TUF
// when path is empty.
func loadTrustedRoot(path string) (*root.TrustedRoot, error) {
	if path == "" {
		tr, err := root.FetchTrustedRoot()
		if err != nil {
			return nil, errs.Unreachable(fmt.Errorf("public-good trusted root from the Sigstore TUF repository: %w; pass --trusted-root FILE to verify offline", err))
		}
		return tr, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("read trusted root: %w", err))
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("trusted root %s is not a valid Sigstore trusted root: %w", path, err))
	}
	return tr, nil
}

// loadBundle reads and parses a bundle. An unreadable file is an input
// error; a file that is not a valid bundle fails verification.
func loadBundle(path string) (*bundle.Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("read bundle: %w", err))
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, errs.Check(fmt.Errorf("bundle %s is not a valid Sigstore bundle: %w", path, err))
	}
	return &b, nil
}

// loadKey makes trusted material of a PEM public key. The key is offered
// for any key hint in the bundle: the signature check decides whether it
// signed, and the key has no validity window of its own.
func loadKey(path string) (root.TrustedMaterial, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("read public key: %w", err))
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("public key %s: %w; pass a PEM-encoded PKIX public key", path, err))
	}
	verifier, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("public key %s: %w", path, err))
	}
	key := root.NewExpiringKey(verifier, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return key, nil
	}), nil
}
