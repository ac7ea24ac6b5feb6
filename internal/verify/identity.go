package verify

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/harden-dev/harden/internal/errs"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions tokens.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// Identity is who must have signed, for keyless signatures.
type Identity struct {
	Subject       string `json:"subject,omitempty"`       // exact SAN
	SubjectRegexp string `json:"subjectRegexp,omitempty"` // anchored ^…$
	Issuer        string `json:"issuer"`
	// SourceRepository, when set, must equal the certificate's source
	// repository URI extension (GitHub: the repository whose workflow
	// ran, also when it called a reusable workflow elsewhere).
	SourceRepository string `json:"sourceRepository,omitempty"`
}

// IdentityFlags are the command-line ways to name an identity.
type IdentityFlags struct {
	Subject, SubjectRegexp, Issuer string
	GitHubRepo, GitHubWorkflow     string
	GitHubRef                      string
}

// ResolveIdentity turns flags into an Identity. Regexps are anchored
// whether or not the user anchored them, so "release@x" cannot match
// "release@x.evil". GitHub shortcuts build the SAN of a workflow run:
// https://github.com/<repo>/<workflow path>@<ref>. A reusable workflow
// is named as owner/repo/.github/workflows/file.yml; the SAN then names
// the called workflow and the source repository stays the caller.
func ResolveIdentity(f IdentityFlags) (Identity, error) {
	if f.GitHubRepo != "" {
		if f.Subject != "" || f.SubjectRegexp != "" {
			return Identity{}, errs.Input(errors.New("--github-repo builds the certificate identity itself; drop --certificate-identity(-regexp)"))
		}
		if strings.Count(f.GitHubRepo, "/") != 1 || strings.ContainsAny(f.GitHubRepo, " @:") {
			return Identity{}, errs.Input(fmt.Errorf("--github-repo %q: use owner/repo", f.GitHubRepo))
		}
		issuer := f.Issuer
		if issuer == "" {
			issuer = GitHubIssuer
		}
		wf := `\.github/workflows/[^@]+`
		base := regexp.QuoteMeta("https://github.com/"+f.GitHubRepo) + "/"
		if f.GitHubWorkflow != "" {
			w := strings.TrimPrefix(f.GitHubWorkflow, "/")
			if strings.Contains(w, "/.github/workflows/") {
				// owner/repo/.github/workflows/x.yml: a reusable workflow.
				base = regexp.QuoteMeta("https://github.com/")
				wf = regexp.QuoteMeta(w)
			} else {
				if !strings.HasPrefix(w, ".github/workflows/") {
					w = ".github/workflows/" + w
				}
				wf = regexp.QuoteMeta(w)
			}
		}
		ref := "refs/.+"
		if f.GitHubRef != "" {
			if !strings.HasPrefix(f.GitHubRef, "refs/") {
				return Identity{}, errs.Input(fmt.Errorf("--github-ref %q: use a full ref such as refs/heads/main or refs/tags/v1.2.3", f.GitHubRef))
			}
			ref = regexp.QuoteMeta(f.GitHubRef)
		}
		return Identity{SubjectRegexp: "^" + base + wf + "@" + ref + "$", Issuer: issuer,
			SourceRepository: "https://github.com/" + f.GitHubRepo}, nil
	}
	if f.Issuer == "" && f.Subject == "" && f.SubjectRegexp == "" {
		return Identity{}, errs.Input(errors.New("say who must have signed: --certificate-identity (or --certificate-identity-regexp) with --certificate-oidc-issuer, or --github-repo for a GitHub Actions workflow, or --key for a key"))
	}
	if f.Issuer == "" {
		return Identity{}, errs.Input(errors.New("--certificate-oidc-issuer is required for keyless verification (e.g. " + GitHubIssuer + "), or verify with --key"))
	}
	switch {
	case f.Subject != "" && f.SubjectRegexp != "":
		return Identity{}, errs.Input(errors.New("give --certificate-identity or --certificate-identity-regexp, not both"))
	case f.Subject == "" && f.SubjectRegexp == "":
		return Identity{}, errs.Input(errors.New("--certificate-identity (exact) or --certificate-identity-regexp is required, or use --github-repo"))
	}
	id := Identity{Subject: f.Subject, Issuer: f.Issuer}
	if f.SubjectRegexp != "" {
		id.SubjectRegexp = Anchor(f.SubjectRegexp)
		if _, err := regexp.Compile(id.SubjectRegexp); err != nil {
			return Identity{}, errs.Input(fmt.Errorf("--certificate-identity-regexp: %w", err))
		}
	}
	return id, nil
}

// Anchor makes re match whole strings only.
func Anchor(re string) string {
	if !strings.HasPrefix(re, "^") {
		re = "^(?:" + re + ")"
	}
	if !strings.HasSuffix(re, "$") || strings.HasSuffix(re, `\$`) {
		re += "$"
	}
	return re
}

// policy is the sigstore-go identity matcher.
func (i Identity) policy() (sgverify.CertificateIdentity, error) {
	san, err := sgverify.NewSANMatcher(i.Subject, i.SubjectRegexp)
	if err != nil {
		return sgverify.CertificateIdentity{}, errs.Input(fmt.Errorf("identity: %w", err))
	}
	iss, err := sgverify.NewIssuerMatcher(i.Issuer, "")
	if err != nil {
		return sgverify.CertificateIdentity{}, errs.Input(fmt.Errorf("issuer: %w", err))
	}
	return sgverify.NewCertificateIdentity(san, iss, certificate.Extensions{SourceRepositoryURI: i.SourceRepository})
}

// matches reports whether a certificate names this identity. It only
// words messages about entries that failed verification; verification
// itself uses sigstore-go's and cosign's matchers.
func (i Identity) matches(s certificate.Summary) bool {
	if s.Extensions.Issuer != i.Issuer {
		return false
	}
	if i.SourceRepository != "" && s.Extensions.SourceRepositoryURI != i.SourceRepository {
		return false
	}
	if i.SubjectRegexp == "" {
		return s.SubjectAlternativeName == i.Subject
	}
	re, err := regexp.Compile(i.SubjectRegexp)
	return err == nil && re.MatchString(s.SubjectAlternativeName)
}

func (i Identity) String() string {
	s := i.Subject
	if i.SubjectRegexp != "" {
		s = i.SubjectRegexp
	}
	return s + " (issuer " + i.Issuer + ")"
}
