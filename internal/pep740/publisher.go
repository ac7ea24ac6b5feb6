package pep740

import (
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

// OIDC issuers of the publisher kinds, as Fulcio records them.
const (
	GitHubIssuer = "https://token.actions.githubusercontent.com"
	GitLabIssuer = "https://gitlab.com"
	GoogleIssuer = "https://accounts.google.com"
)

// certificateIdentity is what sigstore-go must find in the certificate of
// an attestation signed by p: the issuer and, for GitHub and GitLab, the
// Source Repository URI (the workflow is checked by checkWorkflow, as its
// Build Config URI carries a ref only the certificate knows). For Google,
// the subject alternative name is the service account's email.
func certificateIdentity(p Publisher) (sgverify.CertificateIdentity, error) {
	var issuer, san, sanRegexp string
	var ext certificate.Extensions
	switch p.Kind {
	case KindGitHub:
		issuer, sanRegexp = GitHubIssuer, `^https://github\.com/`
		ext.SourceRepositoryURI = "https://github.com/" + p.Repository
	case KindGitLab:
		issuer, sanRegexp = GitLabIssuer, `^https://gitlab\.com/`
		ext.SourceRepositoryURI = "https://gitlab.com/" + p.Repository
	case KindGoogle:
		issuer, san = GoogleIssuer, p.Email
	default:
		return sgverify.CertificateIdentity{}, fmt.Errorf("%w: publisher kind %q is not supported (only %s, %s and %s)",
			ErrPublisher, p.Kind, KindGitHub, KindGitLab, KindGoogle)
	}
	if (p.Kind != KindGoogle && (p.Repository == "" || p.Workflow == "")) || (p.Kind == KindGoogle && p.Email == "") {
		return sgverify.CertificateIdentity{}, fmt.Errorf("%w: publisher %s is incomplete", ErrPublisher, p)
	}
	sm, err := sgverify.NewSANMatcher(san, sanRegexp)
	if err != nil {
		return sgverify.CertificateIdentity{}, err
	}
	im, err := sgverify.NewIssuerMatcher(issuer, "")
	if err != nil {
		return sgverify.CertificateIdentity{}, err
	}
	return sgverify.NewCertificateIdentity(sm, im, ext)
}

// checkWorkflow checks the certificate's Build Config URI names p's
// workflow at the ref or commit the certificate itself records, as
// pypi-attestations does: a Trusted Publisher names the workflow file but
// not the ref it ran from.
func checkWorkflow(p Publisher, c certificate.Summary) error {
	var prefix string
	var suffixes []string
	switch p.Kind {
	case KindGitHub:
		prefix = "https://github.com/" + p.Repository + "/.github/workflows/" + p.Workflow + "@"
		for _, s := range []string{c.SourceRepositoryDigest, c.SourceRepositoryRef} {
			if s != "" {
				suffixes = append(suffixes, s)
			}
		}
		if len(suffixes) == 0 {
			return fmt.Errorf("%w: the certificate has neither a Source Repository Digest nor a Source Repository Ref", ErrPublisher)
		}
	case KindGitLab:
		prefix = "https://gitlab.com/" + p.Repository + "//" + p.Workflow + "@"
		if c.SourceRepositoryDigest == "" || c.SourceRepositoryRef == "" {
			return fmt.Errorf("%w: the certificate lacks a Source Repository Digest or Ref", ErrPublisher)
		}
		suffixes = []string{c.SourceRepositoryDigest, c.SourceRepositoryRef}
	default:
		return nil
	}
	for _, s := range suffixes {
		if c.BuildConfigURI == prefix+s {
			return nil
		}
	}
	return fmt.Errorf("%w: right repository, wrong workflow: the provenance names %s, the certificate was issued to workflow %s (build config %s)",
		ErrPublisher, p, orNone(foundWorkflow(p.Kind, c)), orNone(c.BuildConfigURI))
}

// foundWorkflow is the workflow file the certificate's Build Config URI
// names, relative to its source repository; "" when it names none.
func foundWorkflow(kind string, c certificate.Summary) string {
	sep := "/.github/workflows/"
	if kind == KindGitLab {
		sep = "//"
	}
	rest, ok := strings.CutPrefix(c.BuildConfigURI, c.SourceRepositoryURI+sep)
	if !ok || c.SourceRepositoryURI == "" {
		return ""
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// describeCert names the identity a certificate carries, for messages.
func describeCert(c certificate.Summary) string {
	parts := []string{"issuer " + orNone(c.Issuer)}
	if c.SourceRepositoryURI != "" {
		parts = append(parts, "repository "+c.SourceRepositoryURI)
	}
	if c.BuildConfigURI != "" {
		parts = append(parts, "build config "+c.BuildConfigURI)
	}
	parts = append(parts, "subject "+orNone(c.SubjectAlternativeName))
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// samePublisher reports whether got is the publisher want pins. An
// environment is compared only when want names one.
func samePublisher(want, got Publisher) bool {
	if want.Kind != got.Kind || want.Repository != got.Repository || want.Workflow != got.Workflow || want.Email != got.Email {
		return false
	}
	return want.Environment == "" || want.Environment == got.Environment
}
