package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/harden-dev/harden/internal/errs"
)

// jwt builds an unsigned token with the given claims; Claims only decodes.
func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + ".c2lnbmF0dXJl"
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestResolveTokenOrder(t *testing.T) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Unix()
	flagTok := jwt(t, map[string]any{"iss": "https://flag.example", "sub": "a", "exp": exp})
	fileTok := jwt(t, map[string]any{"iss": "https://file.example", "sub": "b", "exp": exp})
	envTok := jwt(t, map[string]any{"iss": "https://env.example", "sub": "c", "exp": exp})
	ghTok := jwt(t, map[string]any{"iss": "https://token.actions.githubusercontent.com", "sub": "repo:org/app:ref:refs/heads/main", "exp": exp})
	var gotAuth, gotAud string
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotAud = r.Header.Get("Authorization"), r.URL.Query().Get("audience")
		fmt.Fprintf(w, `{"value":%q}`, ghTok)
	}))
	defer gh.Close()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(fileTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ghEnv := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": gh.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runtime-bearer"}
	withEnv := map[string]string{"SIGSTORE_ID_TOKEN": envTok}
	for k, v := range ghEnv {
		withEnv[k] = v
	}
	cases := []struct {
		name   string
		o      TokenOptions
		want   string
		source string
	}{
		{"flag wins", TokenOptions{Token: flagTok, TokenFile: file, Getenv: env(withEnv)}, flagTok, "flag"},
		{"file next", TokenOptions{TokenFile: file, Getenv: env(withEnv)}, fileTok, "file " + file},
		{"env next", TokenOptions{Getenv: env(withEnv)}, envTok, "SIGSTORE_ID_TOKEN"},
		{"github actions", TokenOptions{Getenv: env(ghEnv)}, ghTok, "github-actions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := ResolveToken(ctx, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Raw() != c.want || tok.Source != c.source {
				t.Fatalf("got %s from %q", tok, tok.Source)
			}
		})
	}
	if gotAuth != "Bearer runtime-bearer" || gotAud != "sigstore" {
		t.Errorf("GitHub request: auth %q audience %q", gotAuth, gotAud)
	}
}

func TestResolveTokenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := ResolveToken(ctx, TokenOptions{Getenv: env(nil)})
	if errs.ExitCode(err) != 2 || !strings.Contains(err.Error(), "--identity-token-file") || !strings.Contains(err.Error(), "id-token: write") {
		t.Errorf("no token: %v", err)
	}
	expired := jwt(t, map[string]any{"iss": "https://x.example", "sub": "s", "exp": time.Now().Add(-time.Hour).Unix()})
	_, err = ResolveToken(ctx, TokenOptions{Token: expired})
	if err == nil || !strings.Contains(err.Error(), "expired") || strings.Contains(err.Error(), expired) {
		t.Errorf("expired: %v", err)
	}
	_, err = ResolveToken(ctx, TokenOptions{Token: "not-a-jwt"})
	if err == nil || !strings.Contains(err.Error(), "not a JWT") || strings.Contains(err.Error(), "not-a-jwt") {
		t.Errorf("garbage: %v", err)
	}
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	defer deny.Close()
	_, err = ResolveToken(ctx, TokenOptions{Getenv: env(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": deny.URL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "secret-bearer"})})
	if err == nil || !strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), "secret-bearer") {
		t.Errorf("github denied: %v", err)
	}
}

// A token never shows in String, %v, %#v or JSON.
func TestTokenNeverPrinted(t *testing.T) {
	raw := jwt(t, map[string]any{"iss": "https://issuer.example", "sub": "me", "exp": time.Now().Add(time.Hour).Unix()})
	tok := &Token{raw: raw, Source: "flag"}
	js, err := json.Marshal(map[string]any{"t": tok})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{tok.String(), fmt.Sprintf("%v", tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), string(js)} {
		if strings.Contains(s, raw) || strings.Contains(s, strings.Split(raw, ".")[1]) {
			t.Errorf("token leaked: %s", s)
		}
	}
	if !strings.Contains(tok.String(), "https://issuer.example") {
		t.Errorf("String() = %s, want the issuer", tok)
	}
	s := &Signer{token: raw}
	err = s.scrub(fmt.Errorf("service said: bad token %s", raw))
	if strings.Contains(err.Error(), raw) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("scrub: %v", err)
	}
}

// Key-based signing without any log or TSA (air-gapped): keygen, load,
// sign, and the bundle verifies with the key; a wrong password fails
// without echoing it.
func TestKeySigning(t *testing.T) {
	ctx := context.Background()
	prefix := filepath.Join(t.TempDir(), "keys", "release")
	kp, err := GenerateKey(prefix, []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(kp.Private)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", st.Mode().Perm())
	}
	priv, _ := os.ReadFile(kp.Private)
	if !strings.Contains(string(priv), "ENCRYPTED SIGSTORE PRIVATE KEY") {
		t.Errorf("private key is not in cosign's format: %.60s", priv)
	}
	if _, err := GenerateKey(prefix, []byte("x")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: %v", err)
	}
	if _, err := LoadKey(kp.Private, []byte("wrong-password-123")); err == nil || strings.Contains(err.Error(), "wrong-password-123") || !strings.Contains(err.Error(), PasswordEnv) {
		t.Errorf("wrong password: %v", err)
	}
	sv, err := LoadKey(kp.Private, []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, Options{Key: sv})
	if err != nil {
		t.Fatal(err)
	}
	if s.Keyless() || s.Identity().KeyID == "" {
		t.Fatalf("identity = %+v", s.Identity())
	}
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.Repeat("a", 64) + `"}}],"predicateType":"https://example.com/p","predicate":{}}`)
	b, err := s.DSSE(ctx, "application/vnd.in-toto+json", stmt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(b, nil); err != nil {
		t.Fatalf("own bundle does not verify: %v", err)
	}
	msg := []byte("hello")
	mb, err := s.Message(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(mb, msg); err != nil {
		t.Fatalf("message bundle: %v", err)
	}
	if _, err := s.Check(mb, []byte("other")); err == nil {
		t.Fatal("message bundle verified against the wrong message")
	}
	// Another key's signer rejects it.
	kp2, err := GenerateKey(filepath.Join(t.TempDir(), "other"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sv2, err := LoadKey(kp2.Private, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(ctx, Options{Key: sv2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Check(b, nil); err == nil {
		t.Fatal("bundle verified with another key")
	}
	raw, err := MarshalBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"`) {
		t.Errorf("bundle JSON: %.200s", raw)
	}
}

func TestLoadTrustOffline(t *testing.T) {
	_, err := LoadTrust(TrustOptions{Offline: true, CacheDir: t.TempDir()})
	if errs.ExitCode(err) != 2 || !strings.Contains(err.Error(), "--trusted-root") {
		t.Errorf("offline without root: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "root.json")
	os.WriteFile(bad, []byte("{}"), 0o644)
	_, err = LoadTrust(TrustOptions{TrustedRootPath: bad, Offline: true})
	if errs.ExitCode(err) != 2 || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad root: %v", err)
	}
}

// DSSEWithSignature hands over the envelope's signature as soon as it is
// made, and a bundle that does not verify with the signer's own trust
// material is never returned.
func TestDSSEWithSignatureAndUnverified(t *testing.T) {
	ctx := context.Background()
	newKeySigner := func(dir string) *Signer {
		t.Helper()
		kp, err := GenerateKey(filepath.Join(t.TempDir(), dir), nil)
		if err != nil {
			t.Fatal(err)
		}
		sv, err := LoadKey(kp.Private, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, Options{Key: sv})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := newKeySigner("a")
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.Repeat("a", 64) + `"}}],"predicateType":"https://example.com/p","predicate":{}}`)
	var sigs [][]byte
	b, err := s.DSSEWithSignature(ctx, "application/vnd.in-toto+json", stmt, func(sig []byte) { sigs = append(sigs, sig) })
	if err != nil {
		t.Fatal(err)
	}
	env := b.GetDsseEnvelope()
	if len(sigs) != 1 || env == nil || len(env.GetSignatures()) != 1 || string(sigs[0]) != string(env.GetSignatures()[0].GetSig()) {
		t.Fatalf("reported %d signature(s); the envelope holds %v", len(sigs), env.GetSignatures())
	}
	if _, err := s.Check(b, nil); err != nil {
		t.Fatalf("own bundle does not verify: %v", err)
	}

	// A signer whose trusted material is another key's: what it signs
	// does not verify, and is refused.
	bad := newKeySigner("b")
	bad.material = s.material
	_, err = bad.DSSE(ctx, "application/vnd.in-toto+json", stmt)
	var ue *UnverifiedError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want an UnverifiedError", err)
	}
	if _, err := bad.Message(ctx, []byte("hello")); !errors.As(err, &ue) {
		t.Fatalf("message: err = %v, want an UnverifiedError", err)
	}
}

// Through one TUFReader, the TUF repository is read once for each
// document, however many times trust material is loaded.
func TestLoadTrustReadsTUFOnce(t *testing.T) {
	var roots, configs int
	tr := &TUFReader{}
	tr.fetch = func(_ *tuf.Options, wantRoot, wantConfig bool) (*root.TrustedRoot, *root.SigningConfig, error) {
		var tr *root.TrustedRoot
		var sc *root.SigningConfig
		if wantRoot {
			roots++
			tr = &root.TrustedRoot{}
		}
		if wantConfig {
			configs++
			sc = &root.SigningConfig{}
		}
		return tr, sc, nil
	}
	dir := t.TempDir()
	v1, err := LoadTrust(TrustOptions{CacheDir: dir, TUF: tr})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := LoadTrust(TrustOptions{CacheDir: dir, NeedSigningConfig: true, TUF: tr})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := LoadTrust(TrustOptions{CacheDir: dir, NeedSigningConfig: true, TUF: tr})
	if err != nil {
		t.Fatal(err)
	}
	if roots != 1 || configs != 1 {
		t.Fatalf("read the trusted root %d times and the signing config %d times, want once each", roots, configs)
	}
	if v1.Root != s1.Root || s1.Root != s2.Root || s1.Config == nil || s1.Config != s2.Config || v1.Config != nil {
		t.Fatalf("trust material differs between loads: %+v %+v %+v", v1, s1, s2)
	}
	if _, err := LoadTrust(TrustOptions{CacheDir: t.TempDir(), TUF: tr}); err != nil || roots != 2 {
		t.Fatalf("another cache directory: %v, %d reads", err, roots)
	}
	// Offline, what the reader keeps is used; a repository it has not
	// read is asked for its cache alone, and never refreshed.
	if v, err := LoadTrust(TrustOptions{CacheDir: dir, Offline: true, TUF: tr}); err != nil || v.Root != v1.Root || roots != 2 {
		t.Fatalf("offline load of kept material: %v, %d reads", err, roots)
	}
	tr.fetch = func(o *tuf.Options, _, _ bool) (*root.TrustedRoot, *root.SigningConfig, error) {
		if _, err := o.Fetcher.DownloadFile("https://tuf.example/timestamp.json", 1<<20, 0); !o.ForceCache || err == nil {
			t.Fatalf("offline TUF options: ForceCache %v, download error %v", o.ForceCache, err)
		}
		return nil, nil, errors.New("not cached")
	}
	if _, err := LoadTrust(TrustOptions{CacheDir: t.TempDir(), Offline: true, TUF: tr}); errs.ExitCode(err) != errs.CodeInput {
		t.Fatalf("offline load of an empty cache: %v", err)
	}
}
