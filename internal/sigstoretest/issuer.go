package sigstoretest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Audience is the "aud" claim Fulcio's issuer configuration expects.
const Audience = "sigstore"

// tokenLifetime is how long minted ID tokens stay valid.
const tokenLifetime = 10 * time.Minute

// Issuer is a minimal OpenID Connect provider on 127.0.0.1: discovery
// document, JWKS and ES256 ID tokens for any email address.
type Issuer struct {
	srv    *httptest.Server
	signer jose.Signer
	key    *ecdsa.PublicKey // verifies the tokens it mints
}

// NewIssuer starts an issuer that lives until the test ends. A standalone
// issuer is one Fulcio does not trust.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss, err := newIssuer()
	if err != nil {
		t.Fatalf("sigstoretest: %v", err)
	}
	t.Cleanup(iss.close)
	return iss
}

// newIssuer starts an issuer; the caller stops it with close.
func newIssuer() (*Issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	const kid = "sigstoretest"
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("issuer signer: %w", err)
	}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig",
	}}}

	iss := &Issuer{signer: signer, key: &key.PublicKey}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                iss.URL(),
			"jwks_uri":                              iss.URL() + "/jwks",
			"authorization_endpoint":                iss.URL() + "/auth",
			"token_endpoint":                        iss.URL() + "/token",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{string(jose.ES256)},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, jwks)
	})
	if iss.srv, err = newLocalServer(mux); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	return iss, nil
}

// close stops the issuer's server.
func (i *Issuer) close() { i.srv.Close() }

// URL is the issuer identifier, e.g. http://127.0.0.1:40123.
func (i *Issuer) URL() string { return i.srv.URL }

// Token mints an ID token for email, valid for ten minutes, with audience
// "sigstore" and email_verified set.
func (i *Issuer) Token(t testing.TB, email string) string {
	t.Helper()
	tok, err := i.Mint(email, tokenLifetime)
	if err != nil {
		t.Fatalf("sigstoretest: %v", err)
	}
	return tok
}

// Mint returns an ID token for email, valid for ttl from now, with
// audience "sigstore" and email_verified set.
func (i *Issuer) Mint(email string, ttl time.Duration) (string, error) {
	return i.mint(i.URL(), email, ttl)
}

// tokenAs mints a token claiming to come from issuer while signed with
// this issuer's key; tests use it to forge tokens.
func (i *Issuer) tokenAs(t testing.TB, issuer, email string) string {
	t.Helper()
	tok, err := i.mint(issuer, email, tokenLifetime)
	if err != nil {
		t.Fatalf("sigstoretest: %v", err)
	}
	return tok
}

func (i *Issuer) mint(issuer, email string, ttl time.Duration) (string, error) {
	if email == "" {
		return "", errors.New("mint token: empty email")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("mint token for %s: lifetime %v is not positive", email, ttl)
	}
	now := time.Now()
	claims := jwt.Claims{
		Issuer:   issuer,
		Subject:  email,
		Audience: jwt.Audience{Audience},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(ttl)),
	}
	extra := struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}{email, true}
	tok, err := jwt.Signed(i.signer).Claims(claims).Claims(extra).Serialize()
	if err != nil {
		return "", fmt.Errorf("mint token for %s: %w", email, err)
	}
	return tok, nil
}

// newLocalServer serves h on 127.0.0.1 (never another interface) until
// the returned server is closed.
func newLocalServer(h http.Handler) (*httptest.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	return srv, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
