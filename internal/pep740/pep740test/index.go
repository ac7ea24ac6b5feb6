package pep740test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/harden-dev/harden/internal/pep740"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/wheel"
)

// Index serves a directory of wheels as a PEP 691 JSON simple index, with
// PEP 740 provenance for the files given one: named by each file's
// "provenance" key and served by PyPI's Integrity API too.
type Index struct {
	dir   string
	files map[string][]indexFile // by normalised project name
	mu    sync.Mutex
	prov  map[string][]byte // by filename
}

type indexFile struct {
	filename, sha256 string
	version          string
}

// NewIndex lists the wheels of dir.
func NewIndex(dir string) (*Index, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.whl"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no wheels in %s", dir)
	}
	ix := &Index{dir: dir, files: map[string][]indexFile{}, prov: map[string][]byte{}}
	for _, p := range paths {
		fn, err := wheel.ParseFilename(filepath.Base(p))
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		key := wheel.NormalizeName(fn.Name)
		ix.files[key] = append(ix.files[key], indexFile{filename: filepath.Base(p), sha256: hex.EncodeToString(sum[:]), version: fn.Version})
	}
	return ix, nil
}

// Projects are the normalised project names served, sorted.
func (ix *Index) Projects() []string {
	out := make([]string, 0, len(ix.files))
	for k := range ix.files {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SetProvenance serves obj as the provenance of filename.
func (ix *Index) SetProvenance(filename string, obj []byte) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.prov[filename] = obj
}

// AttestProject signs a publish attestation of every file of the project
// as the GitHub workflow run c describes, through s, and serves the
// provenance objects naming that workflow as the Trusted Publisher.
func (ix *Index) AttestProject(ctx context.Context, s *sigstoretest.Stack, c sigstoretest.GitHubClaims, project string) error {
	files := ix.files[wheel.NormalizeName(project)]
	if len(files) == 0 {
		return fmt.Errorf("the index serves no project %q", project)
	}
	for _, f := range files {
		att, err := Attest(ctx, s, c, f.filename, f.sha256)
		if err != nil {
			return err
		}
		ix.SetProvenance(f.filename, Provenance(pep740.Publisher{Kind: pep740.KindGitHub, Repository: c.Repository, Workflow: c.Workflow}, att))
	}
	return nil
}

// Handler serves /simple/<project>/, /files/<filename>,
// /provenance/<filename> and /integrity/<project>/<version>/<filename>/provenance.
func (ix *Index) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /simple/{project}/", ix.page)
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := ix.find(r.PathValue("name")); !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(ix.dir, r.PathValue("name")))
	})
	mux.HandleFunc("GET /provenance/{name}", func(w http.ResponseWriter, r *http.Request) {
		ix.serveProvenance(w, r, r.PathValue("name"))
	})
	mux.HandleFunc("GET /integrity/{project}/{version}/{name}/provenance", func(w http.ResponseWriter, r *http.Request) {
		f, ok := ix.find(r.PathValue("name"))
		if !ok || f.version != r.PathValue("version") || !ix.has(r.PathValue("project"), f.filename) {
			http.NotFound(w, r)
			return
		}
		ix.serveProvenance(w, r, f.filename)
	})
	return mux
}

func (ix *Index) find(filename string) (indexFile, bool) {
	for _, fs := range ix.files {
		for _, f := range fs {
			if f.filename == filename {
				return f, true
			}
		}
	}
	return indexFile{}, false
}

func (ix *Index) has(project, filename string) bool {
	for _, f := range ix.files[project] {
		if f.filename == filename {
			return true
		}
	}
	return false
}

func (ix *Index) serveProvenance(w http.ResponseWriter, r *http.Request, filename string) {
	ix.mu.Lock()
	data, ok := ix.prov[filename]
	ix.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.integrity.v1+json")
	_, _ = w.Write(data)
}

func (ix *Index) page(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("project")
	files, ok := ix.files[key]
	if !ok || key != strings.ToLower(key) {
		http.NotFound(w, r)
		return
	}
	type jsonFile struct {
		Filename   string            `json:"filename"`
		URL        string            `json:"url"`
		Hashes     map[string]string `json:"hashes"`
		Provenance *string           `json:"provenance"`
	}
	out := struct {
		Meta  map[string]string `json:"meta"`
		Name  string            `json:"name"`
		Files []jsonFile        `json:"files"`
	}{Meta: map[string]string{"api-version": "1.1"}, Name: key}
	ix.mu.Lock()
	for _, f := range files {
		jf := jsonFile{Filename: f.filename, URL: "../../files/" + f.filename, Hashes: map[string]string{"sha256": f.sha256}}
		if _, ok := ix.prov[f.filename]; ok {
			u := "../../provenance/" + f.filename
			jf.Provenance = &u
		}
		out.Files = append(out.Files, jf)
	}
	ix.mu.Unlock()
	w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
	_ = json.NewEncoder(w).Encode(out)
}
