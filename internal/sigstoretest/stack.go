// Package sigstoretest runs a complete, private Sigstore deployment on
// 127.0.0.1: an OIDC issuer, Fulcio and a timestamp authority in process,
// and Rekor v2 (rekor-tiles) as a child process, plus a trusted root and
// signing config describing them. Tests use Start; programs use Run and
// Close.
//
// Notes for signers using sigstore-go against a Stack:
//   - Select services from SigningConfig with root.SelectService and the
//     sign package's API version lists (sign.FulcioAPIVersions,
//     sign.RekorAPIVersions, sign.TimestampAuthorityAPIVersions). The Rekor
//     entry has major API version 2, so it must be used with
//     sign.RekorOptions{Version: 2}.
//   - The TSA service URL already ends in /api/v1/timestamp; pass it to
//     sign.TimestampAuthorityOptions.URL as is.
//   - Rekor v2 entries carry no integrated time, so verifiers need signed
//     timestamps: verify.WithSignedTimestamps(1) plus
//     verify.WithTransparencyLog(1).
//   - Fulcio has no CT log; do not require SCTs.
//   - Issuer.GitHubToken mints GitHub Actions ID tokens: Fulcio turns
//     them into certificates with GitHub's issuer (GitHubIssuerURL) and
//     workflow extensions, as for a real GitHub Actions run.
package sigstoretest

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/harden-dev/harden/internal/testtools"
)

// validityBackdate is how far before startup the trusted root and signing
// config windows open, so clock skew never puts a timestamp before them.
const validityBackdate = 24 * time.Hour

// Stack is a running Sigstore deployment. A Stack from Start stops when
// the test that started it ends; one from Run stops on Close.
type Stack struct {
	// Issuer is the OIDC provider Fulcio trusts.
	Issuer *Issuer
	// FulcioURL is Fulcio's base URL (REST API under /api/v2).
	FulcioURL string
	// TSAURL is the timestamp authority's base URL; the RFC 3161 endpoint
	// is TSAURL+"/api/v1/timestamp".
	TSAURL string
	// RekorURL is the Rekor v2 base URL; its hostname is the checkpoint
	// origin.
	RekorURL string
	// TrustedRootPath and SigningConfigPath are protojson files in the
	// stack's directory (Options.Dir, or a temporary one for Start).
	TrustedRootPath   string
	SigningConfigPath string
	// TrustedRoot is parsed from TrustedRootPath.
	TrustedRoot *root.TrustedRoot
	// SigningConfig is parsed from SigningConfigPath.
	SigningConfig *root.SigningConfig

	rekor     *rekor
	servers   []*httptest.Server // in start order
	closeOnce sync.Once
	closeErr  error
}

// Options configures Run.
type Options struct {
	// Dir receives trusted_root.json, signing_config.json and a fresh
	// rekor-* directory holding the log's key and storage, which Close
	// leaves in place. It must exist.
	Dir string
	// RekorServer is the path to a rekor-tiles POSIX rekor-server binary.
	RekorServer string
}

// Start brings up a Stack for t and registers its teardown with
// t.Cleanup. It fails the test (never skips) when any part cannot start,
// including when the rekor-server tool cannot be built.
func Start(t testing.TB) *Stack {
	t.Helper()
	dir := t.TempDir()
	bin := testtools.Path(t, "rekor-server")
	s, err := Run(t.Context(), Options{Dir: dir, RekorServer: bin})
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("%v", err)
		} else if t.Failed() {
			t.Logf("rekor-server output:\n%s", s.rekor.proc.output())
		}
	})
	return s
}

// Run brings up a Stack outside a test. Every service listens on
// 127.0.0.1 only. ctx bounds startup; the stack then runs until Close.
// All stacks in a process share one timestamp authority key, because the
// TSA library keeps its state in globals.
func Run(ctx context.Context, o Options) (*Stack, error) {
	s, err := run(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("sigstoretest: %w", err)
	}
	return s, nil
}

func run(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.Dir == "" {
		return nil, errors.New("no directory given")
	}
	if o.RekorServer == "" {
		return nil, errors.New("no rekor-server binary given")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("stack directory: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("stack directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("stack directory %s is not a directory", dir)
	}

	s := &Stack{
		TrustedRootPath:   filepath.Join(dir, "trusted_root.json"),
		SigningConfigPath: filepath.Join(dir, "signing_config.json"),
	}
	defer func() {
		if err != nil {
			// Startup errors matter more than teardown ones.
			_ = s.Close()
		}
	}()

	// The issuer goes first: Fulcio runs OIDC discovery when it reads its
	// config.
	if s.Issuer, err = newIssuer(); err != nil {
		return nil, err
	}
	s.servers = append(s.servers, s.Issuer.srv)

	fc, err := newFulcio(ctx, s.Issuer.URL(), s.Issuer.key)
	if err != nil {
		return nil, err
	}
	fulcioSrv, err := newLocalServer(fc.handler)
	if err != nil {
		return nil, fmt.Errorf("fulcio: %w", err)
	}
	s.servers = append(s.servers, fulcioSrv)
	s.FulcioURL = fulcioSrv.URL

	tsaH, err := tsaHandler()
	if err != nil {
		return nil, err
	}
	tsaSrv, err := newLocalServer(tsaH)
	if err != nil {
		return nil, fmt.Errorf("timestamp authority: %w", err)
	}
	s.servers = append(s.servers, tsaSrv)
	s.TSAURL = tsaSrv.URL
	tsaChain, err := fetchTSAChain(ctx, s.TSAURL)
	if err != nil {
		return nil, err
	}

	if s.rekor, err = startRekor(ctx, o.RekorServer, dir); err != nil {
		return nil, err
	}
	s.RekorURL = s.rekor.url

	in := trustInputs{
		issuerURL:   s.Issuer.URL(),
		fulcioURL:   s.FulcioURL,
		fulcioChain: fc.chain,
		tsaURL:      s.TSAURL,
		tsaChain:    tsaChain,
		rekor:       s.rekor,
		validFrom:   time.Now().Add(-validityBackdate).UTC().Truncate(time.Second),
	}
	tr, err := buildTrustedRoot(in)
	if err != nil {
		return nil, err
	}
	sc, err := buildSigningConfig(in)
	if err != nil {
		return nil, err
	}
	if err := writeJSONFile(s.TrustedRootPath, tr); err != nil {
		return nil, err
	}
	if err := writeJSONFile(s.SigningConfigPath, sc); err != nil {
		return nil, err
	}
	// Hand out what a consumer would read from disk, not the in-memory
	// originals, so a lossy serialisation shows up in every test.
	if s.TrustedRoot, err = root.NewTrustedRootFromPath(s.TrustedRootPath); err != nil {
		return nil, fmt.Errorf("read back %s: %w", s.TrustedRootPath, err)
	}
	if s.SigningConfig, err = root.NewSigningConfigFromPath(s.SigningConfigPath); err != nil {
		return nil, fmt.Errorf("read back %s: %w", s.SigningConfigPath, err)
	}
	return s, nil
}

// Close stops the Rekor child process and every server. It reports a
// rekor-server that failed while serving. Later calls return the first
// call's result.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		if s.rekor != nil {
			if err := s.rekor.proc.stop(); err != nil {
				s.closeErr = fmt.Errorf("sigstoretest: %w", err)
			}
		}
		for i := len(s.servers) - 1; i >= 0; i-- {
			s.servers[i].Close()
		}
	})
	return s.closeErr
}
