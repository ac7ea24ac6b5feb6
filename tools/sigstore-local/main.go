// Command sigstore-local runs a private Sigstore deployment (OIDC issuer,
// Fulcio, timestamp authority and Rekor v2) on 127.0.0.1 for offline demos.
//
// Usage:
//
//	sigstore-local -dir DIR -rekor-server PATH [-email ADDR] [-token-ttl D]
//	               [-index-wheels DIR [-index-attest PKG=OWNER/REPO:WORKFLOW,...]]
//
// With -index-wheels it also serves those wheels as a PEP 691 simple
// index, with PyPI (PEP 740) attestations, signed through this Sigstore
// with GitHub Actions certificates, for the packages -index-attest names;
// the env file then sets PYPI_INDEX_URL.
//
// Once every service answers, DIR holds:
//
//	trusted_root.json    the trusted root for verifiers
//	signing_config.json  the signing config for signers
//	token                an ID token for -email (mode 0600, no newline)
//	env                  SIGSTORE_* variables, ready to source from sh
//	ready                an empty file, created last
//
// Scripts wait for DIR/ready. The program removes it at startup and on
// shutdown, but a script reusing DIR should remove it before starting the
// program too, or it may see the old marker first. The program serves
// until SIGINT or SIGTERM and then exits 0; it exits 1 when startup fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	fulciolog "github.com/sigstore/fulcio/pkg/log"
	tsalog "github.com/sigstore/timestamp-authority/v2/pkg/log"
	"go.uber.org/zap"

	"github.com/harden-dev/harden/internal/pep740/pep740test"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sigstore-local:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "directory for the deployment's files (created if missing; required)")
	rekorServer := flag.String("rekor-server", "", "path to the rekor-tiles POSIX rekor-server binary (required)")
	email := flag.String("email", "release@harden.test", "identity of the minted ID token")
	ttl := flag.Duration("token-ttl", 30*time.Minute, "lifetime of the minted ID token")
	indexWheels := flag.String("index-wheels", "", "also serve the wheels of this directory as a simple index")
	indexAttest := flag.String("index-attest", "", "packages the index attests, as PKG=OWNER/REPO:WORKFLOW, comma-separated")
	flag.Parse()
	attest, err := parseAttest(*indexAttest)
	if err != nil {
		return err
	}
	switch {
	case flag.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	case *dir == "":
		return errors.New("-dir is required")
	case *rekorServer == "":
		return errors.New("-rekor-server is required")
	case *email == "":
		return errors.New("-email must not be empty")
	case *ttl <= 0:
		return fmt.Errorf("-token-ttl %v is not positive", *ttl)
	case len(attest) > 0 && *indexWheels == "":
		return errors.New("-index-attest needs -index-wheels")
	}

	if err := quietLibraryLogs(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", *dir, err)
	}
	ready := filepath.Join(*dir, "ready")
	if err := removeIfExists(ready); err != nil {
		return err
	}

	st, err := sigstoretest.Run(ctx, sigstoretest.Options{Dir: *dir, RekorServer: *rekorServer})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during startup: %w", err)
		}
		return err
	}
	var extra [][2]string
	if *indexWheels != "" {
		url, stopIndex, err := serveIndex(ctx, st, *indexWheels, attest)
		if err != nil {
			return errors.Join(err, st.Close())
		}
		defer stopIndex()
		extra = append(extra, [2]string{"PYPI_INDEX_URL", url})
	}
	if err := publish(st, *dir, *email, *ttl, extra); err != nil {
		return errors.Join(err, st.Close())
	}
	fmt.Fprintf(os.Stderr, "sigstore-local: ready in %s\n", *dir)

	<-ctx.Done()
	stop() // a second signal kills the process outright
	return errors.Join(removeIfExists(ready), st.Close())
}

// quietLibraryLogs stops the in-process Fulcio and timestamp authority
// from logging every request; warnings and errors still reach stderr.
func quietLibraryLogs() error {
	cfg := zap.NewDevelopmentConfig()
	cfg.Level = zap.NewAtomicLevelAt(zap.WarnLevel)
	cfg.OutputPaths = []string{"stderr"}
	cfg.DisableStacktrace = true
	l, err := cfg.Build()
	if err != nil {
		return fmt.Errorf("configure logging: %w", err)
	}
	fulciolog.Logger = l.Sugar()
	tsalog.Logger = l.Sugar()
	return nil
}

// publish writes the token, the env file and, last, the ready marker.
func publish(st *sigstoretest.Stack, dir, email string, ttl time.Duration, extra [][2]string) error {
	tok, err := st.Issuer.Mint(email, ttl)
	if err != nil {
		return err
	}
	// No trailing newline: some clients (cosign) send the file's bytes as
	// the bearer token verbatim.
	if err := writeFileAtomic(filepath.Join(dir, "token"), []byte(tok), 0o600); err != nil {
		return err
	}

	var env strings.Builder
	for _, kv := range append([][2]string{
		{"SIGSTORE_ISSUER", st.Issuer.URL()},
		{"SIGSTORE_FULCIO_URL", st.FulcioURL},
		// The RFC 3161 endpoint itself, as the signing config lists it.
		{"SIGSTORE_TSA_URL", st.TSAURL + sigstoretest.TimestampPath},
		{"SIGSTORE_REKOR_URL", st.RekorURL},
		{"SIGSTORE_IDENTITY", email},
	}, extra...) {
		fmt.Fprintf(&env, "%s=%s\n", kv[0], shellQuote(kv[1]))
	}
	if err := writeFileAtomic(filepath.Join(dir, "env"), []byte(env.String()), 0o644); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "ready"), nil, 0o644)
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory, so readers see the old content or the new, never a mix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// shellQuote returns s as a POSIX shell word: bare when it holds only
// characters the shell treats literally, single-quoted otherwise.
func shellQuote(s string) string {
	literal := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("@%+=:,./_-", r)
	}
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !literal(r) }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// parseAttest reads -index-attest: PKG=OWNER/REPO:WORKFLOW, comma-separated.
func parseAttest(v string) (map[string]sigstoretest.GitHubClaims, error) {
	out := map[string]sigstoretest.GitHubClaims{}
	if v == "" {
		return out, nil
	}
	for _, item := range strings.Split(v, ",") {
		pkg, pub, ok := strings.Cut(item, "=")
		repo, workflow, ok2 := strings.Cut(pub, ":")
		if !ok || !ok2 || pkg == "" || strings.Count(repo, "/") != 1 || workflow == "" {
			return nil, fmt.Errorf("-index-attest %q: want PKG=OWNER/REPO:WORKFLOW, e.g. six=benjaminp/six:release.yml", item)
		}
		out[pkg] = sigstoretest.GitHubClaims{Repository: repo, Workflow: workflow, Ref: "refs/heads/main", SHA: strings.Repeat("0", 40)}
	}
	return out, nil
}

// serveIndex serves the wheels of dir on 127.0.0.1, attesting the
// packages of attest, and returns the index URL.
func serveIndex(ctx context.Context, st *sigstoretest.Stack, dir string, attest map[string]sigstoretest.GitHubClaims) (string, func(), error) {
	ix, err := pep740test.NewIndex(dir)
	if err != nil {
		return "", nil, fmt.Errorf("-index-wheels: %w", err)
	}
	for pkg, c := range attest {
		if err := ix.AttestProject(ctx, st, c, pkg); err != nil {
			return "", nil, fmt.Errorf("-index-attest %s: %w", pkg, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("serve the index: %w", err)
	}
	srv := &http.Server{Handler: ix.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/simple/", func() { _ = srv.Close() }, nil
}
