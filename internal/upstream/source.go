package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/pep740"
	"github.com/harden-dev/harden/internal/wheels"
)

// State is what a source knows of a file's provenance.
type State int

const (
	// Found: the index served a provenance object (not yet verified).
	Found State = iota
	// None: the index offers no provenance for the file.
	None
	// Unchecked: nobody was asked (offline or a wheel dir) and the cache
	// holds nothing for the file.
	Unchecked
)

// Fetched is what a source returned for one file.
type Fetched struct {
	State State
	// Data is the provenance object when Found, at most
	// pep740.MaxProvenanceSize+1 bytes: a longer one is cut there and
	// refused by pep740.Parse as too large.
	Data []byte
	From string // where the answer came from, for messages
}

// Source finds the provenance object of a locked file.
type Source interface {
	Provenance(ctx context.Context, p Pin, f File) (Fetched, error)
}

// Media types of the PEP 691 simple API and of PyPI's Integrity API.
const (
	simpleJSON    = "application/vnd.pypi.simple.v1+json"
	integrityJSON = "application/vnd.pypi.integrity.v1+json"
)

// Bounds of one request: a project page is read up to 64 MiB (as the
// resolver reads it); a provenance object up to pep740.MaxProvenanceSize.
const (
	maxPageSize    = 64 << 20
	requestTimeout = 2 * time.Minute
)

// Index asks a PEP 691 simple index for provenance: the file's provenance
// URL on the project's JSON page, else PyPI's Integrity API
// (GET <root>/integrity/<project>/<version>/<filename>/provenance) when
// the index URL ends in /simple/. What it finds is kept in the cache.
type Index struct {
	base   *url.URL // the simple index, ending in "/"
	root   *url.URL // the Integrity API root; nil when there is none
	client *http.Client
	cache  *Cache // nil: nothing is kept

	mu    sync.Mutex
	pages map[string]*page
}

// page is what a project's page says of provenance: filename → the
// file's wheels.File.Provenance (absent when the page does not say).
type page struct {
	once  sync.Once
	files map[string]json.RawMessage
	err   error
}

// NewIndex returns a source over the simple index at indexURL; cache may
// be nil.
func NewIndex(indexURL string, client *http.Client, cache *Cache) (*Index, error) {
	u, err := url.Parse(indexURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errs.Input(fmt.Errorf("index URL %q is not an http(s) URL", indexURL))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if client == nil {
		client = http.DefaultClient
	}
	ix := &Index{base: u, client: client, cache: cache, pages: map[string]*page{}}
	if prefix, ok := strings.CutSuffix(u.Path, "simple/"); ok && strings.HasSuffix(prefix, "/") {
		r := *u
		r.Path, r.RawPath, r.RawQuery, r.Fragment = prefix, "", "", ""
		ix.root = &r
	}
	return ix, nil
}

func (ix *Index) String() string { return "index " + redact(ix.base) }

func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("***")
	}
	return c.String()
}

// Provenance looks f up: the page's provenance URL, else the Integrity
// API, else None.
func (ix *Index) Provenance(ctx context.Context, p Pin, f File) (Fetched, error) {
	raw, err := ix.listing(ctx, p, f)
	if err != nil {
		return Fetched{}, err
	}
	var target *url.URL
	advertised := false
	switch {
	case string(raw) == "null":
		return ix.none(f, "the simple API of "+ix.String()+" lists no provenance for "+f.Filename)
	case raw != nil:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			return ix.none(f, "the simple API of "+ix.String()+" gives no usable provenance URL for "+f.Filename)
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return ix.none(f, "the simple API of "+ix.String()+" gives no usable provenance URL for "+f.Filename)
		}
		target, advertised = u, true
	case ix.root != nil:
		target = ix.root.JoinPath("integrity", p.Key, p.Version, f.Filename, "provenance")
	default:
		return ix.none(f, ix.String()+" offers no provenance: its simple API has no provenance URLs and it has no Integrity API")
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return Fetched{}, err
	}
	req.Header.Set("Accept", integrityJSON+", application/json;q=0.5")
	resp, err := ix.client.Do(req)
	if err != nil {
		return Fetched{}, errs.Unreachable(fmt.Errorf("fetch the provenance of %s from %s: %w", f.Filename, redact(target), err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return Fetched{}, errs.Unreachable(fmt.Errorf("fetch the provenance of %s from %s: %s", f.Filename, redact(target), resp.Status))
	case resp.StatusCode == http.StatusNotFound, !advertised && resp.StatusCode < 500:
		// A 404 is PyPI's "no provenance"; for a URL the page did not
		// give, any refusal means the same.
		return ix.none(f, fmt.Sprintf("%s answers %s for the provenance of %s", redact(target), resp.Status, f.Filename))
	default:
		return Fetched{}, fmt.Errorf("fetch the provenance of %s from %s: %s", f.Filename, redact(target), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, pep740.MaxProvenanceSize+1))
	if err != nil {
		return Fetched{}, errs.Unreachable(fmt.Errorf("read the provenance of %s from %s: %w", f.Filename, redact(target), err))
	}
	if ix.cache != nil && len(data) <= pep740.MaxProvenanceSize {
		if _, perr := pep740.ParseBytes(data); perr == nil {
			if err := ix.cache.store(f, data); err != nil {
				return Fetched{}, err
			}
		}
	}
	return Fetched{State: Found, Data: data, From: redact(target)}, nil
}

func (ix *Index) none(f File, why string) (Fetched, error) {
	if ix.cache != nil {
		if err := ix.cache.storeNone(f); err != nil {
			return Fetched{}, err
		}
	}
	return Fetched{State: None, From: why}, nil
}

// listing is what the project's page says of f's provenance
// (wheels.File.Provenance): from f when the caller read the page, else
// from the page, fetched once per project.
func (ix *Index) listing(ctx context.Context, p Pin, f File) (json.RawMessage, error) {
	if f.Listing != nil {
		return f.Listing.Provenance, nil
	}
	pg, err := ix.page(ctx, p.Key)
	if err != nil {
		return nil, err
	}
	return pg.files[f.Filename], nil
}

// page fetches the project's page (JSON or HTML) once. A page that is
// missing or neither says nothing of provenance.
func (ix *Index) page(ctx context.Context, key string) (*page, error) {
	ix.mu.Lock()
	pg := ix.pages[key]
	if pg == nil {
		pg = &page{}
		ix.pages[key] = pg
	}
	ix.mu.Unlock()
	pg.once.Do(func() { pg.files, pg.err = ix.fetchPage(ctx, key) })
	return pg, pg.err
}

func (ix *Index) fetchPage(ctx context.Context, key string) (map[string]json.RawMessage, error) {
	u := ix.base.ResolveReference(&url.URL{Path: url.PathEscape(key) + "/"})
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", simpleJSON+", application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1")
	resp, err := ix.client.Do(req)
	if err != nil {
		return nil, errs.Unreachable(fmt.Errorf("fetch %s: %w", redact(u), err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return nil, errs.Unreachable(fmt.Errorf("fetch %s: %s", redact(u), resp.Status))
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isHTML := mt == "text/html" || mt == "application/vnd.pypi.simple.v1+html"
	out := map[string]json.RawMessage{}
	if resp.StatusCode != http.StatusOK || (mt != simpleJSON && !isHTML) {
		return out, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageSize))
	if err != nil {
		return nil, errs.Unreachable(fmt.Errorf("read %s: %w", redact(u), err))
	}
	// A file without an entry (an HTML page's data-provenance, a JSON
	// page's key) is looked up in the Integrity API. The resolver read
	// this page; if it is not JSON now, the Integrity API is asked too.
	var files []wheels.File
	if isHTML {
		files = wheels.HTMLFiles(body, resp.Request.URL)
	} else if files, err = wheels.JSONFiles(body, resp.Request.URL); err != nil {
		return out, nil
	}
	for _, f := range files {
		if f.Provenance != nil {
			out[f.Filename] = f.Provenance
		}
	}
	return out, nil
}

// Cache keeps provenance objects by the sha256 of the file they are
// about, beside the wheel cache:
// <dir>/provenance/sha256/<ab>/<hex>.json, and <hex>.none when the index
// offered none. Offline, it is the source.
type Cache struct{ dir string }

// NewCache returns the cache in dir, the wheel cache directory (default:
// the user cache's harden/wheels).
func NewCache(dir string) (*Cache, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, errs.Input(fmt.Errorf("find a cache directory: %w; pass --cache-dir", err))
		}
		dir = filepath.Join(base, "harden", "wheels")
	}
	return &Cache{dir: filepath.Join(dir, "provenance")}, nil
}

func (c *Cache) path(f File, ext string) string {
	return filepath.Join(c.dir, "sha256", f.SHA256[:2], f.SHA256+ext)
}

func (c *Cache) store(f File, data []byte) error {
	if err := fsutil.WriteFileAtomic(c.path(f, ".json"), data, 0o644); err != nil {
		return fmt.Errorf("cache the provenance of %s: %w", f.Filename, err)
	}
	_ = os.Remove(c.path(f, ".none"))
	return nil
}

func (c *Cache) storeNone(f File) error {
	if err := fsutil.WriteFileAtomic(c.path(f, ".none"), nil, 0o644); err != nil {
		return fmt.Errorf("cache the provenance of %s: %w", f.Filename, err)
	}
	_ = os.Remove(c.path(f, ".json"))
	return nil
}

// Provenance answers from the cache alone.
func (c *Cache) Provenance(_ context.Context, _ Pin, f File) (Fetched, error) {
	fh, err := os.Open(c.path(f, ".json"))
	if err == nil {
		defer fh.Close()
		data, err := io.ReadAll(io.LimitReader(fh, pep740.MaxProvenanceSize+1))
		if err != nil {
			return Fetched{}, fmt.Errorf("read the cached provenance of %s: %w", f.Filename, err)
		}
		return Fetched{State: Found, Data: data, From: "the provenance cache"}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Fetched{}, fmt.Errorf("read the cached provenance of %s: %w", f.Filename, err)
	}
	if _, err := os.Stat(c.path(f, ".none")); err == nil {
		return Fetched{State: None, From: "the provenance cache (the index offered none)"}, nil
	}
	return Fetched{State: Unchecked, From: "the provenance cache"}, nil
}
