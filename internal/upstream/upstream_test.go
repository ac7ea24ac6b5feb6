package upstream

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
)

// The real PyPI attestation internal/pep740 tests with (an sdist, logged
// in Rekor v1: the record carries an integrated time).
const (
	realFile = "pypi_attestations-0.0.19.tar.gz"
	realSHA  = "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3"
)

var realPub = lock.Publisher{Kind: lock.PublisherGitHub, Repository: "trailofbits/pypi-attestations", Workflow: "release.yml"}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "pep740", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func publicGood(t *testing.T) func() (root.TrustedMaterial, error) {
	data := testdata(t, "trusted_root_public_good.json")
	return func() (root.TrustedMaterial, error) { return root.NewTrustedRootFromJSON(data) }
}

// fakeSource answers from a map by filename: a provenance object, or
// None / Unchecked.
type fakeSource struct {
	data  map[string][]byte
	state map[string]State
	err   error
}

func (s fakeSource) Provenance(_ context.Context, _ Pin, f File) (Fetched, error) {
	if s.err != nil {
		return Fetched{}, s.err
	}
	if d, ok := s.data[f.Filename]; ok {
		return Fetched{State: Found, Data: d, From: "fake"}, nil
	}
	if st, ok := s.state[f.Filename]; ok {
		return Fetched{State: st, From: "fake"}, nil
	}
	return Fetched{State: None, From: "fake"}, nil
}

var realPin = Pin{Key: "pypi-attestations", Name: "pypi-attestations", Version: "0.0.19", Files: []File{{Filename: realFile, SHA256: realSHA}}}

func TestCheckRealAttestation(t *testing.T) {
	src := fakeSource{data: map[string][]byte{realFile: testdata(t, realFile+".provenance")}}
	rep, err := Check(context.Background(), []Pin{realPin}, Options{Source: src, Trust: publicGood(t), Policy: Policy{RequireAll: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	want := lock.FileProvenance{Filename: realFile, SHA256: realSHA, Attested: true, Publisher: realPub,
		LogIndex: 153454663, IntegratedTime: time.Unix(1733354041, 0).UTC()}
	if len(rep.Records) != 1 || len(rep.Records[0]) != 1 || rep.Records[0][0] != want {
		t.Errorf("records %+v, want %+v", rep.Records, want)
	}
	if got := rep.Records[0][0].Comment(); got != "provenance: "+realFile+" sha256:"+realSHA+
		" publisher=GitHub repository=trailofbits/pypi-attestations workflow=release.yml log-index=153454663 integrated-time=2024-12-04T23:14:01Z" {
		t.Errorf("comment %q", got)
	}
	if rep.Attested != 1 || len(rep.Publishers) != 1 || rep.Publishers[0].Name != "GitHub trailofbits/pypi-attestations release.yml" {
		t.Errorf("coverage %+v", rep)
	}
}

func TestCheckTrust(t *testing.T) {
	failing := func() (root.TrustedMaterial, error) { return nil, errs.Input(errors.New("no trusted root")) }
	// Nothing to verify: the trusted root is never loaded.
	rep, err := Check(context.Background(), []Pin{realPin}, Options{Source: fakeSource{}, Trust: failing})
	if err != nil || len(rep.Unattested) != 1 || len(rep.Warnings) != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	// Something to verify: its error stops the check.
	src := fakeSource{data: map[string][]byte{realFile: testdata(t, realFile+".provenance")}}
	// It says which file needed the root.
	if _, err := Check(context.Background(), []Pin{realPin}, Options{Source: src, Trust: failing}); errs.ExitCode(err) != errs.CodeInput ||
		!strings.HasPrefix(err.Error(), "the Sigstore trusted root, to verify the attestation of "+realFile+" (from ") {
		t.Errorf("error %v", err)
	}
	// An unreachable index stops it too.
	unreachable := errs.Unreachable(errors.New("index down"))
	if _, err := Check(context.Background(), []Pin{realPin}, Options{Source: fakeSource{err: unreachable}, Trust: failing}); !errors.Is(err, unreachable) {
		t.Errorf("error %v", err)
	}
}

// previousLock records realPin as attested by pub.
func previousLock(pub lock.Publisher, attested bool) *lock.File {
	return &lock.File{Path: "requirements.lock", Requirements: []lock.Requirement{{Name: "pypi-attestations", Key: "pypi-attestations",
		Version: "0.0.19", Hashes: []string{realSHA}, Provenance: []lock.FileProvenance{{Filename: realFile, SHA256: realSHA, Attested: attested,
			Publisher: pub, LogIndex: 1, IntegratedTime: time.Unix(1, 0).UTC()}}}}}
}

func TestCheckExpectations(t *testing.T) {
	src := fakeSource{data: map[string][]byte{realFile: testdata(t, realFile+".provenance")}}
	other := lock.Publisher{Kind: lock.PublisherGitHub, Repository: "someone/else", Workflow: "release.yml"}
	cases := []struct {
		name    string
		o       Options
		want    []string // in the one violation; none when nil
		warning string
	}{
		{name: "recorded publisher", o: Options{Previous: previousLock(realPub, true)}},
		{name: "another recorded publisher", o: Options{Previous: previousLock(other, true)},
			want: []string{"expected GitHub someone/else release.yml (requirements.lock, which records pypi-attestations 0.0.19 as attested by it (trust on first use))",
				"found GitHub trailofbits/pypi-attestations release.yml", "run harden lock --upgrade-package pypi-attestations"}},
		{name: "released with --upgrade-package", o: Options{Previous: previousLock(other, true), Release: []string{"PyPI_Attestations"}}},
		{name: "harden.yaml wins over the lock", o: Options{Previous: previousLock(realPub, true),
			Policy: Policy{Config: "harden.yaml", Publishers: map[string]lock.Publisher{"pypi-attestations": other}}},
			want: []string{"expected GitHub someone/else release.yml (upstream.publishers.pypi-attestations in harden.yaml)"}},
		{name: "pinned environment", o: Options{Policy: Policy{Config: "harden.yaml", Publishers: map[string]lock.Publisher{"pypi-attestations": {
			Kind: lock.PublisherGitHub, Repository: realPub.Repository, Workflow: realPub.Workflow, Environment: "pypi"}}}},
			want: []string{"expected GitHub trailofbits/pypi-attestations release.yml (environment pypi)", "found GitHub trailofbits/pypi-attestations release.yml;"}},
		{name: "stale record under check", o: Options{Previous: previousLock(lock.Publisher{}, false), Checking: true},
			warning: "pypi-attestations 0.0.19: " + realFile + " is now attested by GitHub trailofbits/pypi-attestations release.yml, which the lock does not record; run harden lock to record it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Source, c.o.Trust = src, publicGood(t)
			rep, err := Check(context.Background(), []Pin{realPin}, c.o)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.want == nil && len(rep.Violations) != 0:
				t.Errorf("violations %v", rep.Violations)
			case c.want != nil && len(rep.Violations) != 1:
				t.Errorf("violations %v, want one", rep.Violations)
			case c.want != nil:
				err := rep.Err()
				if errs.ExitCode(err) != errs.CodeCheckFailed {
					t.Errorf("exit code %d", errs.ExitCode(err))
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%v does not say %q", err, w)
					}
				}
			}
			if c.warning != "" && !slices.Contains(rep.Warnings, c.warning) {
				t.Errorf("warnings %q lack %q", rep.Warnings, c.warning)
			}
		})
	}
}

func TestCheckUnchecked(t *testing.T) {
	src := fakeSource{state: map[string]State{realFile: Unchecked}}
	rep, err := Check(context.Background(), []Pin{realPin}, Options{Source: src, Trust: publicGood(t)})
	if err != nil || len(rep.Violations) != 0 || len(rep.Unchecked) != 1 || len(rep.Warnings) != 0 || rep.Records[0] != nil {
		t.Fatalf("%+v %v", rep, err)
	}
	// The lock's record makes the package expected: not checking it is refused.
	rep, err = Check(context.Background(), []Pin{realPin}, Options{Source: src, Trust: publicGood(t), Previous: previousLock(realPub, true)})
	if err != nil || len(rep.Violations) != 1 || rep.Violations[0].Found != "not checked" {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestReportText(t *testing.T) {
	r := &Report{Pins: 3, Attested: 1,
		Publishers: []PublisherPins{{Name: "GitHub benjaminp/six release.yml", Pins: []string{"six 1.16.0"}}},
		Unattested: []string{"tabulate 0.8.9"}, Unchecked: []string{"sqlparse 0.4.2"}, Warnings: []string{"no upstream attestation for 1 pin: tabulate 0.8.9"}}
	var b strings.Builder
	r.WriteText(&b)
	want := `upstream provenance: 1 of 3 pins attested
  GitHub benjaminp/six release.yml: six 1.16.0
  not attested: tabulate 0.8.9
  not checked (not in the provenance cache, no index asked): sqlparse 0.4.2
warning: no upstream attestation for 1 pin: tabulate 0.8.9
`
	if b.String() != want {
		t.Errorf("text\n%s\nwant\n%s", b.String(), want)
	}
	if r.Err() != nil {
		t.Error("a report without violations is an error")
	}
	r.Violations = []Violation{{Package: "six", Version: "1.16.0", File: "six-1.16.0-py3-none-any.whl", Message: "attested by another publisher than the one pinned",
		Expected: "GitHub benjaminp/six release.yml (harden.yaml)", Found: "GitHub evil/six release.yml", Fix: "check"}}
	err := r.Err()
	if errs.ExitCode(err) != errs.CodeCheckFailed || err.Error() != "upstream provenance: 1 violation:\n  six 1.16.0 (six-1.16.0-py3-none-any.whl): attested by another publisher than the one pinned; expected GitHub benjaminp/six release.yml (harden.yaml), found GitHub evil/six release.yml; check" {
		t.Errorf("error %q", err)
	}
}

// Cache-only: a cached object verifies; a file the cache lacks is a
// warning, or a violation naming the package and the command that fills
// the cache when upstream.require names it.
func TestCheckCacheOnly(t *testing.T) {
	dir := t.TempDir()
	src, err := Settings{CacheOnly: true}.Source("https://pypi.org/simple/", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache, ok := src.(*Cache)
	if !ok {
		t.Fatalf("cache-only source is %T, not the cache", src)
	}
	prev := previousLock(realPub, true)
	failing := func() (root.TrustedMaterial, error) {
		return nil, errors.New("trusted root loaded with nothing to verify")
	}

	rep, err := Check(context.Background(), []Pin{realPin}, Options{Source: cache, Trust: failing, Previous: prev, Checking: true, CacheOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	wantWarn := "upstream provenance not checked for 1 pin: pypi-attestations 0.0.19 (not in the provenance cache; run harden lock --check against the index to fetch and cache it)"
	if rep.Err() != nil || !slices.Equal(rep.Unchecked, []string{"pypi-attestations 0.0.19"}) || !slices.Equal(rep.Warnings, []string{wantWarn}) {
		t.Errorf("not cached: %+v %v", rep, rep.Err())
	}

	for _, c := range []struct {
		policy Policy
		rule   string
	}{
		{Policy{Config: "harden.yaml", Require: map[string]bool{"pypi-attestations": true}}, "upstream.require lists it"},
		{Policy{Config: "harden.yaml", RequireAll: true}, "upstream.require is all"},
	} {
		rep, err := Check(context.Background(), []Pin{realPin}, Options{Source: cache, Trust: failing, Policy: c.policy, Previous: prev, Checking: true, CacheOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		err = rep.Err()
		want := "upstream provenance: 1 violation:\n  pypi-attestations 0.0.19 (" + realFile + "): its provenance is not in the provenance cache, so it cannot be checked, and " + c.rule +
			"; run harden lock --check against the index (without --offline and --wheel-dir) to fetch and cache it, then run this again"
		if errs.ExitCode(err) != errs.CodeCheckFailed || err.Error() != want || len(rep.Warnings) != 0 {
			t.Errorf("required, not cached: %v, warnings %q\nwant %s", err, rep.Warnings, want)
		}
	}

	if err := cache.store(realPin.Files[0], testdata(t, realFile+".provenance")); err != nil {
		t.Fatal(err)
	}
	rep, err = Check(context.Background(), []Pin{realPin}, Options{Source: cache, Trust: publicGood(t), Policy: Policy{RequireAll: true}, Previous: prev, Checking: true, CacheOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err() != nil || rep.Attested != 1 || len(rep.Warnings) != 0 || len(rep.Unchecked) != 0 {
		t.Errorf("cached: %+v %v", rep, rep.Err())
	}
	// The lock's publisher is still expected of a cached file.
	other := lock.Publisher{Kind: lock.PublisherGitHub, Repository: "someone/else", Workflow: "release.yml"}
	rep, err = Check(context.Background(), []Pin{realPin}, Options{Source: cache, Trust: publicGood(t), Previous: previousLock(other, true), Checking: true, CacheOnly: true})
	if err != nil || len(rep.Violations) != 1 || rep.Violations[0].Found != realPub.String() {
		t.Errorf("cached, another publisher: %+v %v", rep, err)
	}
}
