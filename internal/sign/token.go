package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/oauthflow"

	"github.com/harden-dev/harden/internal/errs"
)

// Token is an OIDC identity token. It never prints its value: String,
// GoString and JSON show only where it came from and its claims.
type Token struct {
	raw    string
	Source string // "flag", "file", "SIGSTORE_ID_TOKEN", "github-actions", "interactive"
}

// Raw is the token itself, for the one request that needs it.
func (t *Token) Raw() string { return t.raw }

func (t *Token) String() string {
	c, err := t.Claims()
	if err != nil {
		return "identity token from " + t.Source + " (unreadable claims)"
	}
	return fmt.Sprintf("identity token from %s (iss %s, sub %s)", t.Source, c.Issuer, c.Subject)
}

// GoString keeps %#v from printing the token.
func (t *Token) GoString() string { return t.String() }

// MarshalJSON keeps the token out of JSON output.
func (t *Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// Claims are the token claims that decide the certificate identity.
type Claims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Email    string `json:"email"`
	Audience any    `json:"aud"`
	Expiry   int64  `json:"exp"`
}

// Claims decodes (without verifying: Fulcio does that) the token payload.
func (t *Token) Claims() (*Claims, error) {
	parts := strings.Split(t.raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("identity token is not a JWT (want three dot-separated parts)")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("identity token payload is not base64url")
	}
	var c Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, errors.New("identity token payload is not JSON")
	}
	return &c, nil
}

// TokenOptions say where an identity token may come from. They are tried
// in order: Token, TokenFile, SIGSTORE_ID_TOKEN, GitHub Actions, then an
// interactive browser flow when Interactive is set.
type TokenOptions struct {
	Token       string
	TokenFile   string
	Getenv      func(string) string
	HTTPClient  *http.Client
	Interactive bool
	// Issuer and ClientID are used by the interactive flow; the issuer
	// comes from the signing config (public good: oauth2.sigstore.dev).
	Issuer   string
	ClientID string
	Now      func() time.Time
}

// ResolveToken finds an identity token for keyless signing.
func ResolveToken(ctx context.Context, o TokenOptions) (*Token, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var tok *Token
	switch {
	case o.Token != "":
		tok = &Token{raw: strings.TrimSpace(o.Token), Source: "flag"}
	case o.TokenFile != "":
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("read identity token file: %w", err))
		}
		tok = &Token{raw: strings.TrimSpace(string(b)), Source: "file " + o.TokenFile}
	case getenv("SIGSTORE_ID_TOKEN") != "":
		tok = &Token{raw: strings.TrimSpace(getenv("SIGSTORE_ID_TOKEN")), Source: "SIGSTORE_ID_TOKEN"}
	case getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "" && getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN") != "":
		raw, err := githubToken(ctx, o.HTTPClient, getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
		if err != nil {
			return nil, err
		}
		tok = &Token{raw: raw, Source: "github-actions"}
	case o.Interactive:
		issuer := o.Issuer
		if issuer == "" {
			issuer = PublicOIDCIssuer
		}
		clientID := o.ClientID
		if clientID == "" {
			clientID = "sigstore"
		}
		t, err := oauthflow.OIDConnect(issuer, clientID, "", "", oauthflow.DefaultIDTokenGetter)
		if err != nil {
			return nil, errs.Unreachable(fmt.Errorf("interactive sign-in with %s: %w", issuer, err))
		}
		tok = &Token{raw: t.RawString, Source: "interactive"}
	default:
		return nil, errs.Input(errors.New("no identity token for keyless signing: pass --identity-token-file FILE, set SIGSTORE_ID_TOKEN, " +
			"run in GitHub Actions with `permissions: id-token: write`, run at a terminal to sign in with a browser, or sign with --key"))
	}
	if err := tok.check(o.Now); err != nil {
		return nil, errs.Input(err)
	}
	return tok, nil
}

// check catches the common token mistakes before any service sees it.
func (t *Token) check(now func() time.Time) error {
	if t.raw == "" {
		return fmt.Errorf("identity token from %s is empty", t.Source)
	}
	c, err := t.Claims()
	if err != nil {
		return fmt.Errorf("identity token from %s: %w", t.Source, err)
	}
	if now == nil {
		now = time.Now
	}
	if c.Expiry != 0 && now().Unix() > c.Expiry {
		return fmt.Errorf("identity token from %s (iss %s) expired at %s; get a fresh one",
			t.Source, c.Issuer, time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// githubToken asks the Actions runtime for an ID token with audience
// sigstore. The job needs `permissions: id-token: write`.
func githubToken(ctx context.Context, hc *http.Client, reqURL, bearer string) (string, error) {
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", errs.Input(fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL"))
	}
	q := u.Query()
	q.Set("audience", "sigstore")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", errs.Unreachable(fmt.Errorf("request GitHub Actions ID token from %s: %w", u.Host, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", errs.Unreachable(fmt.Errorf("read GitHub Actions ID token: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GitHub Actions ID token request: HTTP %d; give the job `permissions: id-token: write`", resp.StatusCode)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", errors.New("GitHub Actions ID token response has no value")
	}
	return v.Value, nil
}
