package resolve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheel/wheeltest"
)

// pkg describes a synthetic wheel (or sdist) the test index serves.
type pkg struct {
	filename       string
	requires       []string // Requires-Dist lines
	extras         []string // Provides-Extra
	requiresPython string   // in METADATA
	indexPython    string   // requires-python on the index page
	yanked         bool
	pep658         bool // offer the METADATA at <url>.metadata
	noHash         bool // the index lists no sha256
}

// servedFile is a file with its bytes.
type servedFile struct {
	pkg
	data     []byte
	metadata []byte
}

// testIndex is a PEP 691/503 simple index on 127.0.0.1 that counts the
// requests of every path.
type testIndex struct {
	html  bool
	files map[string][]servedFile // by project key
	mu    sync.Mutex
	hits  map[string]int
	srv   *httptest.Server
	// prov are the PEP 740 provenance objects served, by filename: at
	// /provenance/<filename>, named by the JSON page's "provenance" key
	// when provKey is set (null for a file without one), and at PyPI's
	// Integrity API path otherwise. Set them with serveProvenance.
	prov    map[string][]byte
	provKey bool
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// wheelBytes builds a valid wheel whose METADATA says what p says.
func wheelBytes(t testing.TB, p pkg) (data, metadata []byte) {
	t.Helper()
	fn, err := wheel.ParseFilename(p.filename)
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", fn.Name, fn.Version)
	if p.requiresPython != "" {
		fmt.Fprintf(&md, "Requires-Python: %s\n", p.requiresPython)
	}
	for _, x := range p.extras {
		fmt.Fprintf(&md, "Provides-Extra: %s\n", x)
	}
	for _, r := range p.requires {
		fmt.Fprintf(&md, "Requires-Dist: %s\n", r)
	}
	data = wheeltest.Bytes(t, p.filename, fn.Name, fn.Version,
		wheeltest.Member{Name: strings.ToLower(fn.Name) + "/__init__.py", Data: "VERSION = " + fmt.Sprintf("%q", fn.Version) + "\n"},
		wheeltest.Member{Name: fn.Name + "-" + fn.Version + ".dist-info/METADATA", Data: md.String()})
	return data, []byte(md.String())
}

// newIndex serves pkgs; dir, when not "", also receives every file (for
// pip --find-links).
func newIndex(t testing.TB, htmlPages bool, dir string, pkgs ...pkg) *testIndex {
	t.Helper()
	ix := &testIndex{html: htmlPages, files: map[string][]servedFile{}, hits: map[string]int{}}
	for _, p := range pkgs {
		sf := servedFile{pkg: p}
		var key string
		if strings.HasSuffix(p.filename, ".whl") {
			fn, err := wheel.ParseFilename(p.filename)
			if err != nil {
				t.Fatal(err)
			}
			key = wheel.NormalizeName(fn.Name)
			sf.data, sf.metadata = wheelBytes(t, p)
		} else {
			name, _, ok := wheel.SplitSdist(p.filename)
			if !ok {
				t.Fatalf("%s is neither a wheel nor an sdist", p.filename)
			}
			key = wheel.NormalizeName(name)
			sf.data = []byte("sdist " + p.filename)
		}
		ix.files[key] = append(ix.files[key], sf)
		if dir != "" && strings.HasSuffix(p.filename, ".whl") && !p.yanked {
			if err := os.WriteFile(filepath.Join(dir, p.filename), sf.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ix.start(t)
	return ix
}

// newIndexOfDir serves the wheels of dir as they are, without PEP 658.
func newIndexOfDir(t testing.TB, dir string) *testIndex {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix := &testIndex{files: map[string][]servedFile{}, hits: map[string]int{}}
	for _, e := range ents {
		fn, err := wheel.ParseFilename(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		key := wheel.NormalizeName(fn.Name)
		ix.files[key] = append(ix.files[key], servedFile{pkg: pkg{filename: e.Name()}, data: data})
	}
	ix.start(t)
	return ix
}

func (ix *testIndex) start(t testing.TB) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/simple/{project}/", ix.page)
	mux.HandleFunc("/files/{name}", ix.file)
	mux.HandleFunc("/provenance/{name}", ix.provenance)
	mux.HandleFunc("/integrity/{project}/{version}/{name}/provenance", ix.integrity)
	ix.srv = httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(ix.srv.Close)
}

func (ix *testIndex) URL() string { return ix.srv.URL + "/simple/" }

func (ix *testIndex) hit(path string) {
	ix.mu.Lock()
	ix.hits[path]++
	ix.mu.Unlock()
}

// count returns how often path was requested.
func (ix *testIndex) count(path string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.hits[path]
}

func (ix *testIndex) page(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("project")
	ix.hit(r.URL.Path)
	files, ok := ix.files[key]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if ix.html {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><body><h1>Links for %s</h1>\n", key)
		for _, f := range files {
			href := "../../files/" + f.filename
			if !f.noHash {
				href += "#sha256=" + sha(f.data)
			}
			attrs := fmt.Sprintf(`href="%s"`, html.EscapeString(href))
			if f.indexPython != "" {
				attrs += fmt.Sprintf(` data-requires-python="%s"`, html.EscapeString(f.indexPython))
			}
			if f.pep658 {
				attrs += fmt.Sprintf(` data-dist-info-metadata="sha256=%s"`, sha(f.metadata))
			}
			if f.yanked {
				attrs += ` data-yanked=""`
			}
			fmt.Fprintf(w, "<a %s>%s</a><br/>\n", attrs, f.filename)
		}
		fmt.Fprint(w, "</body></html>\n")
		return
	}
	type jsonFile struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython *string           `json:"requires-python,omitempty"`
		CoreMetadata   any               `json:"core-metadata,omitempty"`
		Yanked         any               `json:"yanked,omitempty"`
		Provenance     json.RawMessage   `json:"provenance,omitempty"`
	}
	ix.mu.Lock()
	provKey, prov := ix.provKey, ix.prov
	ix.mu.Unlock()
	var out struct {
		Meta  map[string]string `json:"meta"`
		Name  string            `json:"name"`
		Files []jsonFile        `json:"files"`
	}
	out.Meta, out.Name = map[string]string{"api-version": "1.1"}, key
	for _, f := range files {
		jf := jsonFile{Filename: f.filename, URL: "/files/" + f.filename, Hashes: map[string]string{}}
		if !f.noHash {
			jf.Hashes["sha256"] = sha(f.data)
		}
		if f.indexPython != "" {
			rp := f.indexPython
			jf.RequiresPython = &rp
		}
		if f.pep658 {
			jf.CoreMetadata = map[string]string{"sha256": sha(f.metadata)}
		}
		if f.yanked {
			jf.Yanked = "broken"
		}
		if provKey {
			jf.Provenance = json.RawMessage("null")
			if _, ok := prov[f.filename]; ok {
				jf.Provenance, _ = json.Marshal("../../provenance/" + f.filename)
			}
		}
		out.Files = append(out.Files, jf)
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
	_ = json.NewEncoder(w).Encode(out)
}

func (ix *testIndex) file(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ix.hit(r.URL.Path)
	base, isMeta := strings.CutSuffix(name, ".metadata")
	for _, files := range ix.files {
		for _, f := range files {
			if f.filename != base {
				continue
			}
			switch {
			case !isMeta:
				_, _ = w.Write(f.data)
			case f.pep658:
				_, _ = w.Write(f.metadata)
			default:
				http.NotFound(w, r)
			}
			return
		}
	}
	http.NotFound(w, r)
}

// serveProvenance replaces the provenance objects served; viaKey names
// them in the JSON pages' provenance key instead of the Integrity API.
func (ix *testIndex) serveProvenance(viaKey bool, prov map[string][]byte) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.prov, ix.provKey = prov, viaKey
}

func (ix *testIndex) provenance(w http.ResponseWriter, r *http.Request) {
	ix.hit(r.URL.Path)
	ix.mu.Lock()
	data, ok := ix.prov[r.PathValue("name")]
	ix.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.integrity.v1+json")
	_, _ = w.Write(data)
}

// integrity is PyPI's Integrity API: 404 for a file without provenance,
// and for every file when the pages name provenance URLs.
func (ix *testIndex) integrity(w http.ResponseWriter, r *http.Request) {
	ix.hit(r.URL.Path)
	ix.mu.Lock()
	data, ok := ix.prov[r.PathValue("name")]
	viaKey := ix.provKey
	ix.mu.Unlock()
	fn, err := wheel.ParseFilename(r.PathValue("name"))
	if !ok || viaKey || err != nil || wheel.NormalizeName(fn.Name) != r.PathValue("project") || fn.Version != r.PathValue("version") ||
		r.Header.Get("Accept") == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.integrity.v1+json")
	_, _ = w.Write(data)
}

// hashOf returns the sha256 of a served file.
func (ix *testIndex) hashOf(t testing.TB, filename string) string {
	t.Helper()
	for _, files := range ix.files {
		for _, f := range files {
			if f.filename == filename {
				return sha(f.data)
			}
		}
	}
	t.Fatalf("no file %s", filename)
	return ""
}

// sortedHashes returns the hashes of filenames, sorted.
func (ix *testIndex) sortedHashes(t testing.TB, filenames ...string) []string {
	var out []string
	for _, f := range filenames {
		out = append(out, ix.hashOf(t, f))
	}
	sort.Strings(out)
	return out
}
