package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/pep740"
)

var (
	fileA = File{Filename: "a-1.0-py3-none-any.whl", SHA256: strings.Repeat("a", 64)}
	fileB = File{Filename: "a-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", SHA256: strings.Repeat("b", 64)}
	pinA  = Pin{Key: "a", Name: "a", Version: "1.0", Files: []File{fileA, fileB}}
)

// fakeIndex serves a JSON page for project a whose files have the given
// raw provenance values, and answers the other paths with status[path]
// (200 with body[path] when set).
type fakeIndex struct {
	page   string
	html   bool // serve page as PEP 503 HTML
	status map[string]int
	body   map[string]string
	mu     sync.Mutex
	asked  []string
}

func (f *fakeIndex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.asked = append(f.asked, r.URL.Path)
	f.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/a/") && f.page != "" {
		w.Header().Set("Content-Type", simpleJSON)
		if f.html {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		_, _ = w.Write([]byte(f.page))
		return
	}
	if code, ok := f.status[r.URL.Path]; ok {
		w.WriteHeader(code)
	}
	_, _ = w.Write([]byte(f.body[r.URL.Path]))
}

func start(t *testing.T, f *fakeIndex) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestIndexSource(t *testing.T) {
	prov := string(testdata(t, realFile+".provenance"))
	integrityA := "/integrity/a/1.0/" + fileA.Filename + "/provenance"
	integrityB := "/integrity/a/1.0/" + fileB.Filename + "/provenance"
	cases := []struct {
		name   string
		path   string // index path, after the server URL
		f      *fakeIndex
		states [2]State
		err    string
		code   int
	}{
		{name: "Integrity API", path: "/simple/", f: &fakeIndex{status: map[string]int{integrityB: 404}, body: map[string]string{integrityA: prov}},
			states: [2]State{Found, None}},
		{name: "Integrity API refuses what it does not know", path: "/simple/", f: &fakeIndex{status: map[string]int{integrityA: 403, integrityB: 400}},
			states: [2]State{None, None}},
		{name: "provenance key, relative URL and null", path: "/simple/", f: &fakeIndex{
			page: `{"files":[{"filename":"` + fileA.Filename + `","provenance":"../../p/a.json"},{"filename":"` + fileB.Filename + `","provenance":null}]}`,
			body: map[string]string{"/p/a.json": prov}}, states: [2]State{Found, None}},
		{name: "data-provenance on an HTML page", path: "/simple/", f: &fakeIndex{html: true,
			page: `<a href="../../f/` + fileA.Filename + `#sha256=` + fileA.SHA256 + `" data-provenance="../../p/a.json">` + fileA.Filename + `</a>` +
				`<a href="../../f/` + fileB.Filename + `">` + fileB.Filename + `</a>`,
			status: map[string]int{integrityA: 500, integrityB: 404}, body: map[string]string{"/p/a.json": prov}}, states: [2]State{Found, None}},
		{name: "HTML data-provenance that is not http(s)", path: "/simple/", f: &fakeIndex{html: true,
			page:   `<a href="../../f/` + fileA.Filename + `" data-provenance="file:///etc/passwd">` + fileA.Filename + `</a>`,
			status: map[string]int{integrityB: 404}, body: map[string]string{integrityA: prov}}, states: [2]State{Found, None}},
		{name: "no Integrity API without /simple/", path: "/pypi/", f: &fakeIndex{}, states: [2]State{None, None}},
		{name: "server error", path: "/simple/", f: &fakeIndex{status: map[string]int{integrityA: 503, integrityB: 503}}, err: "503", code: errs.CodeUnreachable},
		{name: "advertised URL refused", path: "/simple/", f: &fakeIndex{page: `{"files":[{"filename":"` + fileA.Filename + `","provenance":"/p/a.json"}]}`,
			status: map[string]int{"/p/a.json": 403, integrityB: 404}}, err: "403 Forbidden", code: errs.CodeCheckFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := start(t, c.f) + c.path
			cache, err := NewCache(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			ix, err := NewIndex(base, nil, cache)
			if err != nil {
				t.Fatal(err)
			}
			var got [2]State
			for i, f := range []File{fileA, fileB} {
				r, err := ix.Provenance(context.Background(), pinA, f)
				if err != nil {
					if c.err == "" || !strings.Contains(err.Error(), c.err) || errs.ExitCode(err) != c.code {
						t.Fatalf("%s: error %v (exit %d), want %q (exit %d)", f.Filename, err, errs.ExitCode(err), c.err, c.code)
					}
					return
				}
				if r.State == Found && string(r.Data) != prov {
					t.Errorf("%s: data %q", f.Filename, r.Data)
				}
				got[i] = r.State
			}
			if c.err != "" {
				t.Fatalf("no error, want %q", c.err)
			}
			if got != c.states {
				t.Errorf("states %v, want %v (asked %v)", got, c.states, c.f.asked)
			}
			// The cache answers the same offline.
			for i, f := range []File{fileA, fileB} {
				r, err := cache.Provenance(context.Background(), pinA, f)
				if err != nil || r.State != c.states[i] {
					t.Errorf("%s from the cache: %v %v, want %v", f.Filename, r.State, err, c.states[i])
				}
			}
		})
	}
}

func TestIndexSourceBounds(t *testing.T) {
	big := strings.Repeat(" ", pep740.MaxProvenanceSize+10)
	f := &fakeIndex{body: map[string]string{"/integrity/a/1.0/" + fileA.Filename + "/provenance": big}}
	cache, _ := NewCache(t.TempDir())
	ix, err := NewIndex(start(t, f)+"/simple", nil, cache)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ix.Provenance(context.Background(), pinA, fileA)
	if err != nil || r.State != Found || len(r.Data) != pep740.MaxProvenanceSize+1 {
		t.Fatalf("state %v, %d bytes, %v", r.State, len(r.Data), err)
	}
	// Not cached: it does not parse.
	if r, _ := cache.Provenance(context.Background(), pinA, fileA); r.State != Unchecked {
		t.Errorf("an oversized object was cached: %v", r.State)
	}
	if _, err := NewIndex("file:///simple/", nil, nil); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("file URL: %v", err)
	}
	// The page is asked once per project.
	for range 3 {
		if _, err := ix.Provenance(context.Background(), pinA, fileB); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, p := range f.asked {
		if p == "/simple/a/" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("project page asked %d times", n)
	}
	// A cancelled context is not an answer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ix2, _ := NewIndex(start(t, &fakeIndex{})+"/simple/", nil, nil)
	if _, err := ix2.Provenance(ctx, pinA, fileA); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
