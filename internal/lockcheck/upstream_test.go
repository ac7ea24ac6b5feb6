package lockcheck

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/wheels"
)

// TestUpstreamInReport: provenance violations fail the check and show in
// the text after the coverage.
func TestUpstreamInReport(t *testing.T) {
	rep := &Report{Lock: "requirements.lock", Targets: []TargetReport{{Platform: "linux/amd64", Python: "3.11.2", Pins: 1, Problems: []Problem{}}},
		Upstream: &upstream.Report{Pins: 1, Publishers: []upstream.PublisherPins{}, Unattested: []string{"six 1.16.0"}, Unchecked: []string{},
			Violations: []upstream.Violation{{Package: "six", Version: "1.16.0", File: "six-1.16.0-py3-none-any.whl",
				Message: "the index offers no attestation for it, though an earlier release was attested", Expected: "GitHub benjaminp/six release.yml (requirements.lock)",
				Found: "no attestation", Fix: "run harden lock --upgrade-package six"}}}}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	want := "linux/amd64 (Python 3.11.2): 1 pin consistent\n" +
		"upstream provenance: 0 of 1 pin attested\n  not attested: six 1.16.0\n" +
		"  six 1.16.0 (six-1.16.0-py3-none-any.whl): the index offers no attestation for it, though an earlier release was attested\n" +
		"    expected: GitHub benjaminp/six release.yml (requirements.lock)\n    found: no attestation\n    fix: run harden lock --upgrade-package six\n"
	if buf.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
	err := rep.Err()
	if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "requirements.lock is inconsistent (1 problem(s)):\n  upstream provenance: six 1.16.0 (six-1.16.0-py3-none-any.whl)") {
		t.Errorf("error %v", err)
	}
}

func TestLockedFiles(t *testing.T) {
	h := func(c string) string { return strings.Repeat(c, 64) }
	lf := &lock.File{Requirements: []lock.Requirement{{Name: "Six", Key: "six", Version: "1.16.0", Hashes: []string{h("a"), h("b"), h("c")},
		Provenance: []lock.FileProvenance{{Filename: "six-1.16.0-py2.py3-none-any.whl", SHA256: h("b")}}}}}
	src := &memoSource{files: map[string][]wheels.File{"six": {
		{Filename: "six-1.16.0-py3-none-any.whl", SHA256: h("a"), Provenance: json.RawMessage(`"https://pypi.example/prov/six"`)},
		{Filename: "six-1.16.0.tar.gz", SHA256: h("c")},
		{Filename: "six-1.15.0-py3-none-any.whl", SHA256: h("d")},
	}}}
	pins, err := lockedFiles(t.Context(), lf, src)
	if err != nil {
		t.Fatal(err)
	}
	// The listed file carries what the listing said of its provenance;
	// the one named by the lock alone has the page read again.
	want := []upstream.File{{Filename: "six-1.16.0-py2.py3-none-any.whl", SHA256: h("b")},
		{Filename: "six-1.16.0-py3-none-any.whl", SHA256: h("a"), Listing: &upstream.Listing{Provenance: json.RawMessage(`"https://pypi.example/prov/six"`)}}}
	if len(pins) != 1 || pins[0].Key != "six" || pins[0].Name != "Six" || !reflect.DeepEqual(pins[0].Files, want) {
		t.Errorf("pins %+v", pins)
	}
}

// TestRunCacheOnly: the cache-only check runs against an index without
// --wheel-dir and never asks it for provenance; a recorded pin missing
// from the cache is a warning, or a failure when upstream.require names it.
func TestRunCacheOnly(t *testing.T) {
	dir := t.TempDir()
	const name = "six-1.16.0-py3-none-any.whl"
	sum := writeWheel(t, dir, name, "")
	var mu sync.Mutex
	var asked []string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/simple/six/":
			w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
			json.NewEncoder(w).Encode(map[string]any{"files": []map[string]any{{"filename": name, "url": "../../files/" + name,
				"hashes": map[string]string{"sha256": sum}, "provenance": "../../provenance/" + name}}})
		case "/files/" + name:
			http.ServeFile(w, r, filepath.Join(dir, name))
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	lf, err := lock.Parse(strings.NewReader("six==1.16.0 --hash=sha256:"+sum+"\n"), "requirements.lock")
	if err != nil {
		t.Fatal(err)
	}
	pub := lock.Publisher{Kind: lock.PublisherGitHub, Repository: "benjaminp/six", Workflow: "release.yml"}
	lf.Requirements[0].Provenance = []lock.FileProvenance{{Filename: name, SHA256: sum, Attested: true, Publisher: pub, LogIndex: 1}}
	in, err := lock.ParseInput(strings.NewReader("six\n"), "requirements.in")
	if err != nil {
		t.Fatal(err)
	}
	run := func(require config.PackageSet) (*Report, error) {
		pr := &project.Project{Config: &config.Config{Path: "harden.yaml", Upstream: config.Upstream{Require: require}}, Lock: lf, Input: in}
		return Run(t.Context(), Params{Project: pr, IndexURL: srv.URL + "/simple/", CacheDir: filepath.Join(dir, "cache"), HTTPClient: srv.Client(),
			Targets: []baseimage.Target{target(t, "linux/amd64", "x86_64")}, Upstream: &upstream.Settings{CacheOnly: true}})
	}
	rep, err := run(config.PackageSet{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	want := "upstream provenance not checked for 1 pin: six 1.16.0 (not in the provenance cache; run harden lock --check against the index to fetch and cache it)"
	if rep.Upstream == nil || len(rep.Upstream.Warnings) != 1 || rep.Upstream.Warnings[0] != want {
		t.Errorf("upstream %+v, want the warning %q", rep.Upstream, want)
	}
	rep, err = run(config.PackageSet{Packages: []string{"Six"}})
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "upstream provenance: six 1.16.0 ("+name+"): its provenance is not in the provenance cache") ||
		!strings.Contains(err.Error(), "run harden lock --check against the index") {
		t.Errorf("error %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range asked {
		if p != "/simple/six/" && p != "/files/"+name {
			t.Errorf("the index was asked for %s", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", "provenance")); err == nil {
		t.Error("the cache-only check wrote to the provenance cache")
	}
}
