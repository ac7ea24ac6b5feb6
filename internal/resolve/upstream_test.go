package resolve

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/lockcheck"
	"github.com/harden-dev/harden/internal/lockdiff"
	"github.com/harden-dev/harden/internal/pep740"
	"github.com/harden-dev/harden/internal/pep740/pep740test"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/upstream"
)

// The real fixture wheels the provenance tests lock, and who publishes
// them in these tests.
const (
	sixWheel      = "six-1.16.0-py3-none-any.whl"
	sqlparseWheel = "sqlparse-0.4.2-py3-none-any.whl"
	tabulateWheel = "tabulate-0.8.9-py3-none-any.whl"
)

var (
	sixPub      = pep740.Publisher{Kind: pep740.KindGitHub, Repository: "benjaminp/six", Workflow: "release.yml", Environment: "pypi"}
	sqlparsePub = pep740.Publisher{Kind: pep740.KindGitHub, Repository: "andialbrecht/sqlparse", Workflow: "python-publish.yml"}
	evilPub     = pep740.Publisher{Kind: pep740.KindGitHub, Repository: "evil/six", Workflow: "release.yml"}
	nightlyPub  = pep740.Publisher{Kind: pep740.KindGitHub, Repository: "benjaminp/six", Workflow: "nightly.yml"}
)

// provFixture holds what every provenance test shares: one local
// Sigstore stack, the wheels, and attestations signed through it once.
type provFixture struct {
	stack    *sigstoretest.Stack
	wheels   string            // directory of the served wheels
	sha      map[string]string // filename → sha256
	att      map[string]json.RawMessage
	root     string // the stack's trusted_root.json
	badRoot  string // the same with another Fulcio CA
	noneRoot string // a path that does not exist: fails if anything is verified
}

func claims(repo, workflow, ref string) sigstoretest.GitHubClaims {
	return sigstoretest.GitHubClaims{Repository: repo, Workflow: workflow, Ref: ref, SHA: strings.Repeat(fmt.Sprintf("%02x", len(repo)+len(workflow)), 20)}
}

func newProvFixture(t *testing.T) *provFixture {
	t.Helper()
	src := filepath.Join(fixtures(t), "wheels")
	fx := &provFixture{stack: sigstoretest.Start(t), wheels: t.TempDir(), sha: map[string]string{}, att: map[string]json.RawMessage{}}
	for _, w := range []string{sixWheel, sqlparseWheel, tabulateWheel} {
		data, err := os.ReadFile(filepath.Join(src, w))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fx.wheels, w), data, 0o644); err != nil {
			t.Fatal(err)
		}
		fx.sha[w] = sha(data)
	}
	// Signed concurrently: Rekor v2 batches the entries.
	jobs := map[string]struct {
		c         sigstoretest.GitHubClaims
		file, sum string
	}{
		"six":          {claims("benjaminp/six", "release.yml", "refs/tags/1.16.0"), sixWheel, fx.sha[sixWheel]},
		"sqlparse":     {claims("andialbrecht/sqlparse", "python-publish.yml", "refs/tags/0.4.2"), sqlparseWheel, fx.sha[sqlparseWheel]},
		"evil":         {claims("evil/six", "release.yml", "refs/tags/1.16.0"), sixWheel, fx.sha[sixWheel]},
		"nightly":      {claims("benjaminp/six", "nightly.yml", "refs/heads/main"), sixWheel, fx.sha[sixWheel]},
		"other-digest": {claims("benjaminp/six", "release.yml", "refs/tags/1.16.0"), sixWheel, fx.sha[sqlparseWheel]},
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errc := make(chan error, len(jobs))
	for name, j := range jobs {
		wg.Go(func() {
			a, err := pep740test.Attest(t.Context(), fx.stack, j.c, j.file, j.sum)
			if err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				return
			}
			mu.Lock()
			fx.att[name] = a
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	fx.root = fx.stack.TrustedRootPath
	fx.badRoot = filepath.Join(t.TempDir(), "other_root.json")
	writeOtherCARoot(t, fx.root, fx.badRoot)
	fx.noneRoot = filepath.Join(t.TempDir(), "absent.json")
	return fx
}

// writeOtherCARoot writes the trusted root at from with its Fulcio CA
// replaced by a fresh self-signed one.
func writeOtherCARoot(t *testing.T, from, to string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, ca := range m["certificateAuthorities"].([]any) {
		ca.(map[string]any)["certChain"] = map[string]any{"certificates": []any{map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(der)}}}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (fx *provFixture) prov(pub pep740.Publisher, att ...string) []byte {
	var as []json.RawMessage
	for _, a := range att {
		as = append(as, fx.att[a])
	}
	return pep740test.Provenance(pub, as...)
}

// provProject is a project locking six, sqlparse and tabulate with
// upstreamYAML as its upstream: section.
type provProject struct {
	fx    *provFixture
	ix    *testIndex
	cfg   string
	lock  string
	cache string
}

func (fx *provFixture) project(t *testing.T, upstreamYAML string) *provProject {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "harden.yaml")
	if err := os.WriteFile(cfg, []byte(testConfig+upstreamYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "requirements.in"), []byte("six\nsqlparse\ntabulate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &provProject{fx: fx, ix: newIndexOfDir(t, fx.wheels), cfg: cfg, lock: filepath.Join(dir, "requirements.lock"), cache: t.TempDir()}
}

// run locks against the project's index, verifying with root.
func (pp *provProject) run(root string, upgrade ...string) (*Report, error) {
	return Run(context.Background(), Params{ConfigPath: pp.cfg, IndexURL: pp.ix.URL(), CacheDir: pp.cache, PythonVersion: "3.11.2", Glibc: "2.36",
		UpgradePackages: upgrade, Upstream: upstream.Settings{TrustedRoot: root}})
}

func (pp *provProject) read(t *testing.T) (string, *lock.File) {
	t.Helper()
	data, err := os.ReadFile(pp.lock)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := lock.Parse(bytes.NewReader(data), pp.lock)
	if err != nil {
		t.Fatalf("the written lock does not parse: %v", err)
	}
	return string(data), lf
}

// attestedLine is the comment harden lock must write for a file whose
// provenance prov verifies: worked out here with pep740 directly.
func (fx *provFixture) attestedLine(t *testing.T, file string, prov []byte) string {
	t.Helper()
	p, err := pep740.ParseBytes(prov)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pep740.Verify(context.Background(), p, file, fx.sha[file], fx.stack.TrustedRoot, pep740.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Attestations[0]
	line := fmt.Sprintf("    # provenance: %s sha256:%s publisher=GitHub repository=%s workflow=%s", file, fx.sha[file], v.Publisher.Repository, v.Publisher.Workflow)
	if v.Publisher.Environment != "" {
		line += " environment=" + v.Publisher.Environment
	}
	// Rekor v2: no integrated time; the RFC 3161 time is recorded.
	return line + fmt.Sprintf(" log-index=%d timestamp=%s\n", v.LogEntries[0].LogIndex, v.Times[0].UTC().Format("2006-01-02T15:04:05Z"))
}

func noneLine(fx *provFixture, file string) string {
	return fmt.Sprintf("    # provenance: %s sha256:%s none\n", file, fx.sha[file])
}

// wantViolation checks err is an exit-1 policy refusal that says each part.
func wantViolation(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("locked, want a refusal")
	}
	t.Logf("error: %v", err)
	if errs.ExitCode(err) != errs.CodeCheckFailed {
		t.Errorf("exit code %d, want 1", errs.ExitCode(err))
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not say %q", p)
		}
	}
}

// TestUpstreamProvenance locks real fixture wheels from a loopback index
// that serves PEP 740 provenance signed through a local Sigstore stack
// with GitHub Actions certificates, and checks each outcome exactly.
func TestUpstreamProvenance(t *testing.T) {
	fx := newProvFixture(t)
	good := map[string][]byte{sixWheel: fx.prov(sixPub, "six"), sqlparseWheel: fx.prov(sqlparsePub, "sqlparse")}

	for _, viaKey := range []bool{false, true} {
		name := "valid attestations from the Integrity API"
		if viaKey {
			name = "valid attestations from the simple API's provenance key"
		}
		t.Run(name, func(t *testing.T) {
			pp := fx.project(t, "")
			pp.ix.serveProvenance(viaKey, good)
			rep, err := pp.run(fx.root)
			if err != nil {
				t.Fatal(err)
			}
			text, lf := pp.read(t)
			for _, line := range []string{fx.attestedLine(t, sixWheel, good[sixWheel]), fx.attestedLine(t, sqlparseWheel, good[sqlparseWheel]), noneLine(fx, tabulateWheel)} {
				if !strings.Contains(text, line) {
					t.Errorf("the lock lacks\n%s", line)
				}
			}
			six, _ := lf.Lookup("six")
			if rec, ok := six.ProvenanceOf(fx.sha[sixWheel]); !ok || !rec.Attested || rec.Publisher.String() != "GitHub benjaminp/six release.yml (environment pypi)" {
				t.Errorf("six's typed record %+v", rec)
			}
			u := rep.Upstream
			if u.Pins != 3 || u.Attested != 2 || len(u.Publishers) != 2 || u.Publishers[0].Name != "GitHub andialbrecht/sqlparse python-publish.yml" ||
				strings.Join(u.Publishers[1].Pins, ",") != "six 1.16.0" || strings.Join(u.Unattested, ",") != "tabulate 0.8.9" || len(u.Unchecked) != 0 {
				t.Errorf("coverage %+v", u)
			}
			wantWarn := "no upstream attestation for 1 pin: tabulate 0.8.9 (upstream.missing: warn in " + pp.cfg
			if len(u.Warnings) != 1 || !strings.HasPrefix(u.Warnings[0], wantWarn) || len(rep.Warnings) != 0 {
				t.Errorf("warnings %q, want one starting %q", u.Warnings, wantWarn)
			}
			hits := pp.ix.count("/integrity/six/1.16.0/" + sixWheel + "/provenance")
			keyHits := pp.ix.count("/provenance/" + sixWheel)
			if viaKey && (hits != 0 || keyHits != 1) || !viaKey && (hits != 1 || keyHits != 0) {
				t.Errorf("Integrity API asked %d times, provenance key URL %d times", hits, keyHits)
			}
			// The provenance check takes the page the resolver read.
			for _, p := range []string{"six", "sqlparse", "tabulate"} {
				if n := pp.ix.count("/simple/" + p + "/"); n != 1 {
					t.Errorf("the page of %s was read %d times, want once", p, n)
				}
			}
			// pip installs the lock as it is: the records are comments.
			if got := pipWouldInstall(t, fx.wheels, pp.lock); strings.Join(got, " ") != "six==1.16.0 sqlparse==0.4.2 tabulate==0.8.9" {
				t.Errorf("pip would install %v", got)
			}
			// The same inputs give the same bytes.
			if _, err := pp.run(fx.root); err != nil {
				t.Fatal(err)
			}
			if again, _ := pp.read(t); again != text {
				t.Errorf("relock changed the lock:\n%s", again)
			}
			// lock --check verifies the same records.
			chk := pp.check(t, fx.root, false)
			if err := chk.Err(); err != nil || chk.Upstream.Attested != 2 {
				t.Errorf("lock --check: %v %+v", err, chk.Upstream)
			}

			// Offline, from the cache the online lock filled: the same lock.
			off, err := Run(context.Background(), Params{ConfigPath: pp.cfg, WheelDir: fx.wheels, CacheDir: pp.cache, PythonVersion: "3.11.2", Glibc: "2.36",
				Upstream: upstream.Settings{TrustedRoot: fx.root, Offline: true}})
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := pp.read(t); again != text || off.Upstream.Attested != 2 {
				t.Errorf("offline relock from the cache changed the lock:\n%s", again)
			}
		})
	}

	t.Run("offline without a cached provenance", func(t *testing.T) {
		pp := fx.project(t, "upstream: {require: [six]}\n")
		_, err := Run(context.Background(), Params{ConfigPath: pp.cfg, WheelDir: fx.wheels, CacheDir: pp.cache, PythonVersion: "3.11.2", Glibc: "2.36",
			Upstream: upstream.Settings{TrustedRoot: fx.noneRoot, Offline: true}})
		wantViolation(t, err, "six 1.16.0 ("+sixWheel+"): its provenance cannot be checked: it is not in the provenance cache",
			"run harden lock against the index (without --offline and --wheel-dir)")
		// Not required: written without records, listed as not checked.
		pp = fx.project(t, "")
		rep, err := Run(context.Background(), Params{ConfigPath: pp.cfg, WheelDir: fx.wheels, CacheDir: pp.cache, PythonVersion: "3.11.2", Glibc: "2.36",
			Upstream: upstream.Settings{TrustedRoot: fx.noneRoot, Offline: true}})
		if err != nil {
			t.Fatal(err)
		}
		if text, _ := pp.read(t); strings.Contains(text, "provenance") || len(rep.Upstream.Unchecked) != 3 {
			t.Errorf("unchecked lock:\n%s\ncoverage %+v", text, rep.Upstream)
		}
		// --offline needs a wheel dir.
		_, err = Run(context.Background(), Params{ConfigPath: pp.cfg, IndexURL: pp.ix.URL(), Upstream: upstream.Settings{Offline: true}})
		if err == nil || errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "pass --wheel-dir DIR") {
			t.Errorf("offline with an index: %v", err)
		}
	})

	t.Run("wrong publisher repository", func(t *testing.T) {
		pp := fx.project(t, "upstream:\n  publishers:\n    six: {repository: benjaminp/six-fork, workflow: release.yml}\n")
		pp.ix.serveProvenance(false, good)
		_, err := pp.run(fx.root)
		wantViolation(t, err, "six 1.16.0 ("+sixWheel+"): attested by another publisher than the one pinned",
			"expected GitHub benjaminp/six-fork release.yml (upstream.publishers.six in "+pp.cfg+"), found GitHub benjaminp/six release.yml (environment pypi)")
		if _, err := os.Stat(pp.lock); !os.IsNotExist(err) {
			t.Error("a refused lock was written")
		}
	})

	t.Run("right publisher wrong workflow", func(t *testing.T) {
		pp := fx.project(t, "upstream:\n  publishers:\n    six: {repository: benjaminp/six, workflow: release.yml}\n")
		pp.ix.serveProvenance(false, map[string][]byte{sixWheel: fx.prov(nightlyPub, "nightly")})
		_, err := pp.run(fx.root)
		wantViolation(t, err, "expected GitHub benjaminp/six release.yml (upstream.publishers.six", "found GitHub benjaminp/six nightly.yml")
		// A provenance that names release.yml for a nightly.yml
		// certificate does not verify at all.
		pp.ix.serveProvenance(false, map[string][]byte{sixWheel: fx.prov(sixPub, "nightly")})
		_, err = pp.run(fx.root)
		wantViolation(t, err, "/provenance does not verify", "right repository, wrong workflow", "workflow nightly.yml")
	})

	t.Run("attestation for another file's digest", func(t *testing.T) {
		pp := fx.project(t, "")
		pp.ix.serveProvenance(false, map[string][]byte{sixWheel: fx.prov(sixPub, "other-digest")})
		_, err := pp.run(fx.root)
		wantViolation(t, err, "six 1.16.0 ("+sixWheel+"): an attestation from "+pp.ix.srv.URL+"/integrity/six/1.16.0/"+sixWheel+"/provenance does not verify", "statement subject does not match",
			"sha256 "+fx.sha[sqlparseWheel]+", the lock has "+fx.sha[sixWheel])
	})

	t.Run("tampered signature", func(t *testing.T) {
		var a map[string]any
		if err := json.Unmarshal(fx.att["six"], &a); err != nil {
			t.Fatal(err)
		}
		env := a["envelope"].(map[string]any)
		sig, _ := base64.StdEncoding.DecodeString(env["signature"].(string))
		sig[len(sig)/2] ^= 1
		env["signature"] = base64.StdEncoding.EncodeToString(sig)
		tampered, _ := json.Marshal(a)
		pp := fx.project(t, "")
		pp.ix.serveProvenance(false, map[string][]byte{sixWheel: pep740test.Provenance(sixPub, tampered)})
		_, err := pp.run(fx.root)
		wantViolation(t, err, "six 1.16.0 ("+sixWheel+"): an attestation from "+pp.ix.srv.URL+"/integrity/six/1.16.0/"+sixWheel+"/provenance does not verify", "sigstore verification failed")
	})

	t.Run("certificate from an untrusted root", func(t *testing.T) {
		pp := fx.project(t, "")
		pp.ix.serveProvenance(false, good)
		_, err := pp.run(fx.badRoot)
		wantViolation(t, err, "six 1.16.0 ("+sixWheel+"): an attestation from "+pp.ix.srv.URL+"/integrity/six/1.16.0/"+sixWheel+"/provenance does not verify", "sigstore verification failed",
			"sqlparse 0.4.2 ("+sqlparseWheel+")")
	})

	t.Run("publisher changed between two locks", func(t *testing.T) {
		pp := fx.project(t, "")
		pp.ix.serveProvenance(false, good)
		if _, err := pp.run(fx.root); err != nil {
			t.Fatal(err)
		}
		_, before := pp.read(t)
		pp.ix.serveProvenance(false, map[string][]byte{sixWheel: fx.prov(evilPub, "evil"), sqlparseWheel: good[sqlparseWheel]})
		_, err := pp.run(fx.root)
		wantViolation(t, err, "attested by another publisher than the one pinned", "expected GitHub benjaminp/six release.yml (environment pypi) ("+pp.lock+
			", which records six 1.16.0 as attested by it (trust on first use)), found GitHub evil/six release.yml",
			"to accept the new one, run harden lock --upgrade-package six")
		// lock --check sees the same change against the lock's record.
		if chk := pp.check(t, fx.root, false); chk.Err() == nil || !strings.Contains(chk.Err().Error(), "found GitHub evil/six release.yml") {
			t.Errorf("lock --check: %v", chk.Err())
		}
		// Named with --upgrade-package, the new publisher is accepted
		// and the lock diff flags it.
		if _, err := pp.run(fx.root, "six"); err != nil {
			t.Fatal(err)
		}
		_, after := pp.read(t)
		flags := lockdiff.Diff(before, after, nil).RedFlags
		if len(flags) != 1 || flags[0].Kind != lockdiff.FlagPublisherChanged || flags[0].Package != "six" ||
			strings.Join(flags[0].NewPublishers, ",") != "GitHub evil/six release.yml" {
			t.Errorf("red flags %+v", flags)
		}
	})

	t.Run("attestation removed", func(t *testing.T) {
		pp := fx.project(t, "")
		pp.ix.serveProvenance(true, good)
		if _, err := pp.run(fx.root); err != nil {
			t.Fatal(err)
		}
		_, before := pp.read(t)
		pp.ix.serveProvenance(true, map[string][]byte{sqlparseWheel: good[sqlparseWheel]})
		_, err := pp.run(fx.root)
		wantViolation(t, err, "six 1.16.0 ("+sixWheel+"): the index offers no attestation for it, though an earlier release was attested",
			"found no attestation", "run harden lock --upgrade-package six")
		if _, err := pp.run(fx.root, "six"); err != nil {
			t.Fatal(err)
		}
		text, after := pp.read(t)
		if !strings.Contains(text, noneLine(fx, sixWheel)) {
			t.Errorf("six is not recorded as unattested:\n%s", text)
		}
		flags := lockdiff.Diff(before, after, nil).RedFlags
		if len(flags) != 1 || flags[0].Kind != lockdiff.FlagAttestationLost || flags[0].Package != "six" || strings.Join(flags[0].Files, ",") != sixWheel {
			t.Errorf("red flags %+v", flags)
		}
	})

	t.Run("package without attestations under require", func(t *testing.T) {
		pp := fx.project(t, "upstream: {require: [tabulate]}\n")
		pp.ix.serveProvenance(false, good)
		_, err := pp.run(fx.root)
		wantViolation(t, err, "tabulate 0.8.9 ("+tabulateWheel+"): the index offers no attestation for it, and upstream.require lists it",
			"relax upstream.require in "+pp.cfg)
		pp = fx.project(t, "upstream: {missing: fail}\n")
		pp.ix.serveProvenance(false, good)
		_, err = pp.run(fx.root)
		wantViolation(t, err, "tabulate 0.8.9 ("+tabulateWheel+"): the index offers no attestation for it, and upstream.missing is fail")
	})

	t.Run("index that serves no provenance at all", func(t *testing.T) {
		pp := fx.project(t, "")
		// Nothing to verify: the trusted root (absent here) is never read.
		rep, err := pp.run(fx.noneRoot)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := pp.read(t)
		for _, w := range []string{sixWheel, sqlparseWheel, tabulateWheel} {
			if !strings.Contains(text, noneLine(fx, w)) {
				t.Errorf("%s is not recorded as unattested", w)
			}
		}
		if u := rep.Upstream; u.Attested != 0 || strings.Join(u.Unattested, ",") != "six 1.16.0,sqlparse 0.4.2,tabulate 0.8.9" {
			t.Errorf("coverage %+v", u)
		}
		// A new unattested package is a red flag of the lock diff.
		flags := lockdiff.Diff(&lock.File{Path: "empty"}, mustParseLock(t, text), nil).RedFlags
		if len(flags) != 3 || flags[0].Kind != lockdiff.FlagNewUnattested {
			t.Errorf("red flags %+v", flags)
		}
	})

	t.Run("malformed JSON and oversized response", func(t *testing.T) {
		huge := append([]byte(`{"version": 1, "attestation_bundles": [], "padding": "`), bytes.Repeat([]byte("x"), pep740.MaxProvenanceSize)...)
		huge = append(huge, `"}`...)
		pp := fx.project(t, "")
		pp.ix.serveProvenance(false, map[string][]byte{sixWheel: []byte(`{"version": 1, "attestation_bundles": [`), sqlparseWheel: huge})
		rep, err := pp.run(fx.noneRoot)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := pp.read(t)
		if !strings.Contains(text, noneLine(fx, sixWheel)) || !strings.Contains(text, noneLine(fx, sqlparseWheel)) {
			t.Errorf("malformed provenance not recorded as none:\n%s", text)
		}
		w := strings.Join(rep.Upstream.Warnings, "\n")
		for _, want := range []string{
			"six 1.16.0: the provenance the index serves for " + sixWheel + " is not PEP 740 (malformed PEP 740 provenance: provenance: unexpected end of JSON input); it counts as no attestation",
			"sqlparse 0.4.2: the provenance the index serves for " + sqlparseWheel + " is not PEP 740 (malformed PEP 740 provenance: provenance: larger than 4194304 bytes)",
		} {
			if !strings.Contains(w, want) {
				t.Errorf("warnings lack %q:\n%s", want, w)
			}
		}
		// Required, the same file is refused.
		pp = fx.project(t, "upstream: {require: all}\n")
		pp.ix.serveProvenance(false, map[string][]byte{sixWheel: []byte(`{"version": 1, "attestation_bundles": []}`)})
		_, err = pp.run(fx.noneRoot)
		wantViolation(t, err, "six 1.16.0 ("+sixWheel+"): the provenance the index serves for it is not PEP 740 (malformed PEP 740 provenance: attestation_bundles: empty), and upstream.require is all",
			"sqlparse 0.4.2 ("+sqlparseWheel+"): the index offers no attestation for it, and upstream.require is all")
	})
}

// check runs harden lock --check with the provenance check.
func (pp *provProject) check(t *testing.T, root string, offline bool) *lockcheck.Report {
	t.Helper()
	pr, err := project.Load(context.Background(), pp.cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := lockcheck.Run(context.Background(), lockcheck.Params{Project: pr, IndexURL: pp.ix.URL(), CacheDir: pp.cache,
		PythonVersion: "3.11.2", Glibc: "2.36", Upstream: &upstream.Settings{TrustedRoot: root, Offline: offline}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustParseLock(t *testing.T, text string) *lock.File {
	t.Helper()
	lf, err := lock.Parse(strings.NewReader(text), "requirements.lock")
	if err != nil {
		t.Fatal(err)
	}
	return lf
}
