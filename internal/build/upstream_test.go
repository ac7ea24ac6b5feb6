package build

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/pep740/pep740test"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/upstream"
)

// Each wheel record carries the lock's upstream record for its file (by
// sha256), and none when the lock has none for that file.
func TestBuildRecordsUpstream(t *testing.T) {
	f := newFixture(t, "linux/amd64, linux/arm64")
	pub := lock.Publisher{Kind: lock.PublisherGitHub, Repository: "org/natpkg", Workflow: "release.yml", Environment: "pypi"}
	ts := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	var x86 string
	for i, r := range f.lock.Requirements {
		switch r.Key {
		case "natpkg":
			// Only the x86_64 file has a record.
			x86 = r.Hashes[0]
			f.lock.Requirements[i].Provenance = []lock.FileProvenance{{Filename: "natpkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", SHA256: x86,
				Attested: true, Publisher: pub, LogIndex: 9, Timestamp: ts}}
		case "purepkg":
			f.lock.Requirements[i].Provenance = []lock.FileProvenance{{Filename: "purepkg-1.0-py3-none-any.whl", SHA256: r.Hashes[0]}}
		}
	}
	_, rec, err := f.build(t)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*buildrecord.Upstream{
		"linux/amd64 natpkg":  {Attested: true, Publisher: pub, LogIndex: 9, Timestamp: ts},
		"linux/amd64 purepkg": {},
		"linux/arm64 natpkg":  nil,
		"linux/arm64 purepkg": {},
	}
	got := 0
	for _, pl := range rec.Platforms {
		for _, w := range pl.Wheels {
			k := pl.Platform + " " + w.Name
			exp, ok := want[k]
			if !ok {
				t.Errorf("unexpected wheel %s", k)
				continue
			}
			got++
			switch {
			case exp == nil && w.Upstream != nil:
				t.Errorf("%s (%s): upstream %+v, want none", k, w.Filename, *w.Upstream)
			case exp != nil && (w.Upstream == nil || *w.Upstream != *exp):
				t.Errorf("%s (%s): upstream %+v, want %+v", k, w.Filename, w.Upstream, *exp)
			}
		}
	}
	if got != len(want) {
		t.Errorf("%d wheels in the record, want %d", got, len(want))
	}
}

// A build from an index verifies the PEP 740 attestations of the wheels
// it installs against the publishers the lock records, before writing
// anything: the recorded publisher passes, another one fails the build
// with nothing in --out.
func TestBuildVerifiesUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local Sigstore stack")
	}
	st := sigstoretest.Start(t)
	f := newFixture(t, "linux/amd64")
	ix, err := pep740test.NewIndex(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	c := sigstoretest.GitHubClaims{Repository: "org/purepkg", Workflow: "release.yml", Ref: "refs/tags/v1.0", SHA: strings.Repeat("a", 40)}
	if err := ix.AttestProject(t.Context(), st, c, "purepkg"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ix.Handler())
	defer srv.Close()
	cache := t.TempDir()

	build := func(t *testing.T, repo string) (*buildrecord.Record, string, []string, error) {
		lf := *f.lock
		lf.Requirements = slices.Clone(f.lock.Requirements)
		for i, r := range lf.Requirements {
			if r.Key == "purepkg" {
				lf.Requirements[i].Provenance = []lock.FileProvenance{{Filename: "purepkg-1.0-py3-none-any.whl", SHA256: r.Hashes[0], Attested: true,
					Publisher: lock.Publisher{Kind: lock.PublisherGitHub, Repository: repo, Workflow: "release.yml"}}}
			}
		}
		out := filepath.Join(t.TempDir(), "dist")
		var log []string
		rec, err := Run(t.Context(), Params{Project: &project.Project{Config: f.cfg, Lock: &lf, Input: f.input}, Out: out,
			IndexURL: srv.URL + "/simple/", CacheDir: cache, SourceDateEpoch: "1700000000", Registry: registry.New(), HTTPClient: srv.Client(),
			Log:      func(format string, args ...any) { log = append(log, fmt.Sprintf(format, args...)) },
			Upstream: upstream.ForLock(&lf, st.TrustedRootPath, false)})
		return rec, out, log, err
	}
	t.Run("recorded publisher", func(t *testing.T) {
		rec, out, log, err := build(t, "org/purepkg")
		if err != nil {
			t.Fatal(err)
		}
		// The record names the index, so a rebuild asks it again.
		recorded := 0
		for _, pl := range rec.Platforms {
			for _, w := range pl.Wheels {
				if w.Upstream != nil {
					recorded++
					if w.Upstream.Index != srv.URL+"/simple/" {
						t.Errorf("%s: recorded index %q, want %s", w.Filename, w.Upstream.Index, srv.URL+"/simple/")
					}
				}
			}
		}
		if recorded == 0 {
			t.Error("no wheel has an upstream record")
		}
		text := strings.Join(log, "\n")
		if !strings.Contains(text, "upstream provenance: 1 of 2 pins attested") || !strings.Contains(text, "GitHub org/purepkg release.yml: purepkg 1.0") ||
			!strings.Contains(text, "not attested: natpkg 2.0") {
			t.Errorf("coverage not logged:\n%s", text)
		}
		if _, err := os.Stat(filepath.Join(out, "build.json")); err != nil {
			t.Error(err)
		}
	})
	t.Run("another publisher", func(t *testing.T) {
		_, out, _, err := build(t, "org/impostor")
		if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "purepkg 1.0 (purepkg-1.0-py3-none-any.whl): attested by another publisher than the one pinned") ||
			!strings.Contains(err.Error(), "nothing written to "+out) {
			t.Fatalf("error %v", err)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the failed build left %s: %v", out, err)
		}
	})
}
