// Package blob signs files into Sigstore bundles and verifies such
// bundles: a message signature over a file's bytes, or a DSSE envelope
// whose in-toto statement names the file's sha256. It is what harden
// sign-blob and verify-blob run, and it signs harden's own releases.
package blob

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/verify"
)

// Identity is who must have signed a keyless bundle. Regexps are
// anchored (^…$), as harden verify anchors them.
type Identity struct {
	Subject          string `json:"subject,omitempty"`
	SubjectRegexp    string `json:"subjectRegexp,omitempty"`
	Issuer           string `json:"issuer,omitempty"`
	IssuerRegexp     string `json:"issuerRegexp,omitempty"`
	SourceRepository string `json:"sourceRepository,omitempty"`
}

// ResolveIdentity turns harden verify's identity flags, plus an issuer
// regexp (--certificate-oidc-issuer-regexp), into an Identity.
func ResolveIdentity(f verify.IdentityFlags, issuerRegexp string) (Identity, error) {
	if issuerRegexp != "" {
		if f.Issuer != "" {
			return Identity{}, errs.Input(errors.New("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both"))
		}
		// Stands in for the issuer while the other flags are checked.
		f.Issuer = "-"
	}
	id, err := verify.ResolveIdentity(f)
	if err != nil {
		return Identity{}, err
	}
	out := Identity{Subject: id.Subject, SubjectRegexp: id.SubjectRegexp, Issuer: id.Issuer, SourceRepository: id.SourceRepository}
	if issuerRegexp != "" {
		out.Issuer, out.IssuerRegexp = "", verify.Anchor(issuerRegexp)
		if _, err := regexp.Compile(out.IssuerRegexp); err != nil {
			return Identity{}, errs.Input(fmt.Errorf("--certificate-oidc-issuer-regexp: %w", err))
		}
	}
	return out, nil
}

// SetIdentity sets o.Identity from the identity flags, or, with --key,
// refuses them.
func (o *VerifyOptions) SetIdentity(f verify.IdentityFlags, issuerRegexp string) error {
	given := f != (verify.IdentityFlags{}) || issuerRegexp != ""
	if o.KeyPath != "" {
		if given {
			return errKeyAndIdentity
		}
		return nil
	}
	id, err := ResolveIdentity(f, issuerRegexp)
	if err != nil {
		return err
	}
	o.Identity = id
	return nil
}

var errKeyAndIdentity = errs.Input(errors.New("--key and the certificate identity flags exclude each other: verify a key-signed bundle with --key, a keyless one with --certificate-identity and --certificate-oidc-issuer"))

// IsZero reports whether no identity was given.
func (i Identity) IsZero() bool { return i == Identity{} }

func (i Identity) policy() (sgverify.CertificateIdentity, error) {
	san, err := sgverify.NewSANMatcher(i.Subject, i.SubjectRegexp)
	if err != nil {
		return sgverify.CertificateIdentity{}, errs.Input(fmt.Errorf("certificate identity: %w", err))
	}
	iss, err := sgverify.NewIssuerMatcher(i.Issuer, i.IssuerRegexp)
	if err != nil {
		return sgverify.CertificateIdentity{}, errs.Input(fmt.Errorf("certificate issuer: %w", err))
	}
	return sgverify.NewCertificateIdentity(san, iss, certificate.Extensions{SourceRepositoryURI: i.SourceRepository})
}

// subjectString and issuerString word the expectation in messages.
func (i Identity) subjectString() string {
	if i.SubjectRegexp != "" {
		return "one matching " + i.SubjectRegexp
	}
	return i.Subject
}

func (i Identity) issuerString() string {
	if i.IssuerRegexp != "" {
		return "one matching " + i.IssuerRegexp
	}
	return i.Issuer
}

func matchString(exact, re, s string) bool {
	if re == "" {
		return s == exact
	}
	r, err := regexp.Compile(re)
	return err == nil && r.MatchString(s)
}
