package sigstoretest

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/sigstore/fulcio/pkg/config"
	"github.com/sigstore/fulcio/pkg/identity"
	"github.com/sigstore/fulcio/pkg/identity/github"
)

// GitHubIssuerURL is the issuer of GitHub Actions ID tokens. A Stack's
// Fulcio trusts it as a github-workflow issuer whose keys are the stack
// Issuer's, so that its certificates carry the issuer and extensions
// (Source Repository URI, Build Config URI, ...) of real GitHub Actions
// certificates.
const GitHubIssuerURL = "https://token.actions.githubusercontent.com"

// GitHubClaims describe the workflow run a GitHub Actions ID token is for.
type GitHubClaims struct {
	Repository string // owner/name
	Workflow   string // the workflow's file name under .github/workflows, e.g. release.yml
	Ref        string // e.g. refs/tags/v1.0.0
	SHA        string // the commit (40 hex digits)
	// EventName defaults to "push".
	EventName string
}

// GitHubToken mints a GitHub Actions-shaped ID token for c, valid for ten
// minutes, with audience "sigstore".
func (i *Issuer) GitHubToken(t testing.TB, c GitHubClaims) string {
	t.Helper()
	tok, err := i.MintGitHub(c, tokenLifetime)
	if err != nil {
		t.Fatalf("sigstoretest: %v", err)
	}
	return tok
}

// MintGitHub returns a token as GitHub Actions issues it for a run of
// c.Workflow in c.Repository at c.Ref, valid for ttl from now. Fulcio
// puts these claims into the certificate's extensions.
func (i *Issuer) MintGitHub(c GitHubClaims, ttl time.Duration) (string, error) {
	if c.Repository == "" || c.Workflow == "" || c.Ref == "" || c.SHA == "" {
		return "", errors.New("mint GitHub token: repository, workflow, ref and sha are required")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("mint GitHub token: lifetime %v is not positive", ttl)
	}
	event := c.EventName
	if event == "" {
		event = "push"
	}
	owner := c.Repository
	for j := range owner {
		if owner[j] == '/' {
			owner = owner[:j]
			break
		}
	}
	workflowRef := c.Repository + "/.github/workflows/" + c.Workflow + "@" + c.Ref
	now := time.Now()
	claims := jwt.Claims{
		Issuer:   GitHubIssuerURL,
		Subject:  "repo:" + c.Repository + ":ref:" + c.Ref,
		Audience: jwt.Audience{Audience},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(ttl)),
	}
	extra := map[string]any{
		"repository":            c.Repository,
		"repository_id":         "1",
		"repository_owner":      owner,
		"repository_owner_id":   "1",
		"repository_visibility": "public",
		"ref":                   c.Ref,
		"sha":                   c.SHA,
		"event_name":            event,
		"workflow":              c.Workflow,
		"workflow_ref":          workflowRef,
		"workflow_sha":          c.SHA,
		"job_workflow_ref":      workflowRef,
		"job_workflow_sha":      c.SHA,
		"runner_environment":    "github-hosted",
		"run_id":                "1",
		"run_attempt":           "1",
	}
	tok, err := jwt.Signed(i.signer).Claims(claims).Claims(extra).Serialize()
	if err != nil {
		return "", fmt.Errorf("mint GitHub token for %s: %w", c.Repository, err)
	}
	return tok, nil
}

// githubIssuer is Fulcio's github-workflow issuer with the token
// signature checked against a fixed key instead of GitHub's published
// ones: the principal, and so the certificate, comes from Fulcio's own
// github-workflow code.
type githubIssuer struct {
	verifier *oidc.IDTokenVerifier
}

func newGitHubIssuer(key crypto.PublicKey) *githubIssuer {
	ks := &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{key}}
	return &githubIssuer{verifier: oidc.NewVerifier(GitHubIssuerURL, ks, &oidc.Config{ClientID: Audience, SupportedSigningAlgs: []string{oidc.ES256}})}
}

func (g *githubIssuer) Match(_ context.Context, url string) bool { return url == GitHubIssuerURL }

func (g *githubIssuer) Authenticate(ctx context.Context, token string, _ ...config.InsecureOIDCConfigOption) (identity.Principal, error) {
	idt, err := g.verifier.Verify(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("authorizing github issuer: %w", err)
	}
	return github.WorkflowPrincipalFromIDToken(ctx, idt) //nolint:staticcheck // the principal of config.IssuerTypeGithubWorkflow
}
