package sigstoretest

import (
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/harden-dev/harden/internal/testtools"
)

func TestRunSignAndClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Run(t.Context(), Options{Dir: dir, RekorServer: testtools.Path(t, "rekor-server")})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Stop the stack even when an assertion below ends the test early.
	t.Cleanup(func() { _ = s.Close() })

	for _, p := range []struct{ got, name string }{
		{s.TrustedRootPath, "trusted_root.json"},
		{s.SigningConfigPath, "signing_config.json"},
	} {
		if want := filepath.Join(dir, p.name); p.got != want {
			t.Errorf("path = %s, want %s", p.got, want)
		}
		if _, err := os.Stat(p.got); err != nil {
			t.Error(err)
		}
	}

	const ttl = 3 * time.Minute
	tok, err := s.Issuer.Mint(signerEmail, ttl)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	checkTokenLifetime(t, tok, ttl)

	artifact := []byte("harden run artifact\n")
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := sign.Bundle(&sign.PlainData{Data: artifact}, kp, bundleOptions(t, s, tok))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	checkBundleShape(t, s, pb)
	if _, err := verifyBundle(t, s, pb, artifact, s.Issuer.URL(), signerEmail); err != nil {
		t.Fatalf("verify: %v", err)
	}

	addrs := map[string]string{
		"issuer": s.Issuer.URL(),
		"fulcio": s.FulcioURL,
		"tsa":    s.TSAURL,
		"rekor":  s.RekorURL,
	}
	proc := s.rekor.proc
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	select {
	case <-proc.done:
	default:
		t.Fatal("rekor-server still running after Close")
	}
	for name, u := range addrs {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if conn, err := net.DialTimeout("tcp", pu.Host, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s at %s still accepts connections after Close", name, pu.Host)
		}
	}
}

// checkTokenLifetime asserts tok's claims without verifying its signature.
func checkTokenLifetime(t *testing.T, tok string, ttl time.Duration) {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	var claims jwt.Claims
	var extra struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err := parsed.UnsafeClaimsWithoutVerification(&claims, &extra); err != nil {
		t.Fatalf("token claims: %v", err)
	}
	if claims.Expiry == nil || claims.IssuedAt == nil {
		t.Fatalf("token lacks exp or iat: %+v", claims)
	}
	if got := claims.Expiry.Time().Sub(claims.IssuedAt.Time()); got != ttl {
		t.Errorf("token lifetime = %v, want %v", got, ttl)
	}
	if extra.Email != signerEmail || !extra.EmailVerified {
		t.Errorf("token email claims = %+v, want verified %s", extra, signerEmail)
	}
}

func TestMintRejectsBadInput(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t)
	for _, tc := range []struct {
		name  string
		email string
		ttl   time.Duration
		want  string
	}{
		{"empty email", "", time.Minute, "empty email"},
		{"zero lifetime", signerEmail, 0, "not positive"},
		{"negative lifetime", signerEmail, -time.Minute, "not positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := iss.Mint(tc.email, tc.ttl); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Mint(%q, %v) err = %v, want one containing %q", tc.email, tc.ttl, err, tc.want)
			}
		})
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no dir", Options{RekorServer: "rekor-server"}, "no directory"},
		{"no rekor-server", Options{Dir: dir}, "no rekor-server"},
		{"missing dir", Options{Dir: missing, RekorServer: "rekor-server"}, missing},
		{"dir is a file", Options{Dir: file, RekorServer: "rekor-server"}, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Run(t.Context(), tc.o)
			if err == nil {
				_ = s.Close()
				t.Fatal("Run succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := Run(t.Context(), Options{Dir: missing, RekorServer: "x"}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: err = %v, want os.ErrNotExist in the chain", err)
	}
}

func TestRekorStopReportsFailureWhileServing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script string
		exited bool     // wait for the exit before stop
		want   []string // nil: stop must succeed
	}{
		{"crashed", "echo 'panic: tile store gone' >&2; exit 4", true, []string{"exited while serving", "exit status 4", "tile store gone"}},
		{"clean exit", "exit 0", true, nil},
		{"still running", "exec sleep 60", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &rekorProcess{out: &tailBuffer{max: outputTail}, done: make(chan struct{})}
			p.cmd = exec.Command("/bin/sh", "-c", tc.script)
			if err := p.start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.kill)
			if tc.exited {
				<-p.done
			}
			err := p.stop()
			select {
			case <-p.done:
			default:
				t.Fatal("process still running after stop")
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("stop: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("stop succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}
