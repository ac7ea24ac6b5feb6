package wheels

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/wheel/wheeltest"
)

func TestIndexFileAttributes(t *testing.T) {
	const meta = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	jsonPage := `{"meta":{"api-version":"1.1"},"name":"p","files":[
		{"filename":"p-1-py3-none-any.whl","url":"/f/p-1-py3-none-any.whl","hashes":{"sha256":"AA"},"requires-python":">=3.8","core-metadata":{"sha256":"` + strings.ToUpper(meta) + `"},"provenance":"../prov/p-1"},
		{"filename":"p-2-py3-none-any.whl","url":"/f/p-2-py3-none-any.whl","hashes":{},"dist-info-metadata":true,"yanked":"bad build","provenance":null},
		{"filename":"p-3-py3-none-any.whl","url":"/f/p-3-py3-none-any.whl","hashes":{},"requires-python":null,"core-metadata":false}]}`
	htmlPage := `<html><body>
<a href="/f/p-1-py3-none-any.whl#sha256=AA" data-requires-python="&gt;=3.8" data-core-metadata="sha256=` + meta + `" data-provenance="../prov/p-1">p-1-py3-none-any.whl</a>
<a data-dist-info-metadata="true" href="/f/p-2-py3-none-any.whl" data-yanked="" data-provenance="ftp://x/p-2">p-2-py3-none-any.whl</a>
<a href="/f/data-yanked/p-3-py3-none-any.whl">p-3-py3-none-any.whl</a>
</body></html>`
	want := []File{
		{Filename: "p-1-py3-none-any.whl", SHA256: "aa", RequiresPython: ">=3.8", CoreMetadata: meta},
		{Filename: "p-2-py3-none-any.whl", Yanked: true, CoreMetadata: "-"},
		{Filename: "p-3-py3-none-any.whl"},
	}
	// Provenance: relative URLs resolved against the page; a JSON null
	// kept (the page says there is none); an HTML URL that is not
	// http(s) dropped.
	for _, c := range []struct {
		ctype, body string
		prov        []string
	}{
		{"application/vnd.pypi.simple.v1+json", jsonPage, []string{`"SRV/simple/prov/p-1"`, "null", ""}},
		{"text/html", htmlPage, []string{`"SRV/simple/prov/p-1"`, "", ""}},
	} {
		t.Run(c.ctype, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			ix, _ := NewIndex(srv.URL+"/simple/", nil)
			files, err := ix.Files(context.Background(), "p")
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != len(want) {
				t.Fatalf("files %+v", files)
			}
			for i, f := range files {
				if got, want := string(f.Provenance), strings.ReplaceAll(c.prov[i], "SRV", srv.URL); got != want {
					t.Errorf("file %d: provenance %s, want %s", i, got, want)
				}
				f.URL, f.Provenance = "", nil
				if !reflect.DeepEqual(f, want[i]) {
					t.Errorf("file %d: %+v, want %+v", i, f, want[i])
				}
			}
		})
	}
}

// metaServer serves the files of a dir under /files/ and page as the
// project page of "demo", counting requests by path.
type metaServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func (m *metaServer) count(p string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[p]
}

func newMetaServer(t *testing.T, dir string, page string) *metaServer {
	m := &metaServer{hits: map[string]int{}}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.hits[r.URL.Path]++
		m.mu.Unlock()
		if r.URL.Path == "/simple/demo/" {
			w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
			fmt.Fprint(w, page)
			return
		}
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.URL.Path)))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func TestMetadataAndHash(t *testing.T) {
	dir := t.TempDir()
	whl := "demo-1.0-py3-none-any.whl"
	sum := wheeltest.Write(t, dir, whl, "demo", "1.0", wheeltest.Member{Name: "demo/__init__.py", Data: ""})
	metaText := "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: six\n"
	if err := os.WriteFile(filepath.Join(dir, whl+".metadata"), []byte(metaText), 0o644); err != nil {
		t.Fatal(err)
	}
	metaSum := sum256([]byte(metaText))
	ctx := context.Background()
	entry := func(hash, core string) string {
		return fmt.Sprintf(`{"name":"demo","files":[{"filename":%q,"url":"/files/%s","hashes":{%s}%s}]}`, whl, whl, hash, core)
	}
	withHash := `"sha256":"` + sum + `"`

	t.Run("pep658", func(t *testing.T) {
		m := newMetaServer(t, dir, entry(withHash, `,"core-metadata":{"sha256":"`+metaSum+`"}`))
		ix, _ := NewIndex(m.srv.URL+"/simple/", nil)
		files, err := ix.Files(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		md, err := Metadata(ctx, ix, nil, files[0])
		if err != nil || md.Name != "demo" || len(md.RequiresDist) != 1 || md.RequiresDist[0] != "six" {
			t.Fatalf("metadata %+v %v", md, err)
		}
		if m.count("/files/"+whl) != 0 || m.count("/files/"+whl+".metadata") != 1 {
			t.Errorf("requests %v: want the .metadata only", m.hits)
		}
	})
	t.Run("pep658 hash mismatch", func(t *testing.T) {
		m := newMetaServer(t, dir, entry(withHash, `,"core-metadata":{"sha256":"`+strings.Repeat("0", 64)+`"}`))
		ix, _ := NewIndex(m.srv.URL+"/simple/", nil)
		files, _ := ix.Files(ctx, "demo")
		_, err := Metadata(ctx, ix, nil, files[0])
		if err == nil || !strings.Contains(err.Error(), "hash mismatch for "+whl+".metadata") || errs.ExitCode(err) != errs.CodeInput {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("whole wheel through the cache", func(t *testing.T) {
		m := newMetaServer(t, dir, entry(withHash, ""))
		ix, _ := NewIndex(m.srv.URL+"/simple/", nil)
		files, _ := ix.Files(ctx, "demo")
		cache, _ := NewCache(t.TempDir())
		for i := 0; i < 2; i++ {
			md, err := Metadata(ctx, ix, cache, files[0])
			if err != nil || md.Name != "demo" || md.Version != "1.0" || len(md.RequiresDist) != 0 {
				t.Fatalf("metadata %+v %v", md, err)
			}
		}
		if m.count("/files/"+whl) != 1 || m.count("/files/"+whl+".metadata") != 0 {
			t.Errorf("requests %v: want one wheel download (then the cache)", m.hits)
		}
		if h, err := Hash(ctx, ix, files[0]); err != nil || h != sum || m.count("/files/"+whl) != 1 {
			t.Errorf("listed hash: %s %v", h, err)
		}
	})
	t.Run("no hash listed", func(t *testing.T) {
		m := newMetaServer(t, dir, entry("", ""))
		ix, _ := NewIndex(m.srv.URL+"/simple/", nil)
		files, _ := ix.Files(ctx, "demo")
		if files[0].SHA256 != "" {
			t.Fatalf("file %+v", files[0])
		}
		md, err := Metadata(ctx, ix, nil, files[0])
		if err != nil || md.Name != "demo" {
			t.Fatalf("metadata %+v %v", md, err)
		}
		h, err := Hash(ctx, ix, files[0])
		if err != nil || h != sum {
			t.Fatalf("hash %s %v, want %s", h, err, sum)
		}
		if m.count("/files/"+whl) != 2 {
			t.Errorf("requests %v", m.hits)
		}
	})
	t.Run("dir", func(t *testing.T) {
		src := NewDir(dir)
		files, err := src.Files(ctx, "demo")
		if err != nil || len(files) != 1 {
			t.Fatalf("files %+v %v", files, err)
		}
		md, err := Metadata(ctx, src, nil, files[0])
		if err != nil || md.Name != "demo" {
			t.Fatalf("metadata %+v %v", md, err)
		}
	})
}
