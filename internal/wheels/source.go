// Package wheels finds and fetches the files a lock pins: from a PEP 691 /
// PEP 503 simple index or a local directory, through a content-addressed
// cache. It only ever hands out files whose sha256 the lock lists.
package wheels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/wheel"
)

// DefaultIndex is PyPI's simple API.
const DefaultIndex = "https://pypi.org/simple/"

// File is one distribution file offered by a source.
type File struct {
	Filename string `json:"filename"`
	URL      string `json:"url"`    // where it came from (https://… or file://…)
	SHA256   string `json:"sha256"` // lowercase hex, "" when the source does not say
	Yanked   bool   `json:"yanked,omitempty"`
}

// Source lists and opens distribution files of a project. Two
// implementations: Dir (offline) and Index (PEP 691/503).
type Source interface {
	Files(ctx context.Context, key string) ([]File, error)
	Open(ctx context.Context, f File) (io.ReadCloser, error)
	String() string
}

// Dir is a flat directory of wheels (pip's --find-links).
type Dir struct {
	path string
	once sync.Once
	err  error
	byKy map[string][]File
}

// NewDir returns a source over the files in dir.
func NewDir(dir string) *Dir { return &Dir{path: dir} }

func (d *Dir) String() string { return "wheel dir " + d.path }

func (d *Dir) scan() {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		d.err = errs.Input(fmt.Errorf("read wheel dir: %w; pass an existing directory to --wheel-dir", err))
		return
	}
	d.byKy = map[string][]File{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		key := projectKey(e.Name())
		if key == "" {
			continue
		}
		p := filepath.Join(d.path, e.Name())
		sum, err := fsutil.SHA256File(p)
		if err != nil {
			d.err = err
			return
		}
		abs, _ := filepath.Abs(p)
		d.byKy[key] = append(d.byKy[key], File{Filename: e.Name(), URL: (&url.URL{Scheme: "file", Path: abs}).String(), SHA256: sum})
	}
}

// Files lists the files of project key found in the directory.
func (d *Dir) Files(_ context.Context, key string) ([]File, error) {
	d.once.Do(d.scan)
	if d.err != nil {
		return nil, d.err
	}
	return d.byKy[key], nil
}

// Open opens a file of the directory.
func (d *Dir) Open(_ context.Context, f File) (io.ReadCloser, error) {
	return os.Open(filepath.Join(d.path, filepath.Base(f.Filename)))
}

// projectKey guesses the normalised project name of a distribution
// filename: wheels by the spec, sdists by the last "-<digit>" split.
func projectKey(filename string) string {
	if strings.HasSuffix(filename, ".whl") {
		if fn, err := wheel.ParseFilename(filename); err == nil {
			return wheel.NormalizeName(fn.Name)
		}
		return ""
	}
	if project, _, ok := wheel.SplitSdist(filename); ok {
		return wheel.NormalizeName(project)
	}
	return ""
}

// Index is a PEP 691 (JSON) simple index, with PEP 503 HTML as fallback.
type Index struct {
	base   *url.URL
	client *http.Client
}

// NewIndex returns a source over the simple index at rawURL.
func NewIndex(rawURL string, client *http.Client) (*Index, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errs.Input(fmt.Errorf("index URL %q is not an http(s) URL; use e.g. %s", rawURL, DefaultIndex))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Index{base: u, client: client}, nil
}

func (ix *Index) String() string { return "index " + redact(ix.base) }

func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("***")
	}
	return c.String()
}

type pep691Page struct {
	Files []struct {
		Filename string            `json:"filename"`
		URL      string            `json:"url"`
		Hashes   map[string]string `json:"hashes"`
		Yanked   json.RawMessage   `json:"yanked"`
	} `json:"files"`
}

var anchorRe = regexp.MustCompile(`(?is)<a\s([^>]*)>(.*?)</a>`)
var hrefRe = regexp.MustCompile(`(?is)\bhref\s*=\s*("([^"]*)"|'([^']*)')`)

// Files fetches the project page of key.
func (ix *Index) Files(ctx context.Context, key string) ([]File, error) {
	page := ix.base.ResolveReference(&url.URL{Path: url.PathEscape(key) + "/"})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1")
	resp, err := ix.client.Do(req)
	if err != nil {
		return nil, errs.Unreachable(fmt.Errorf("fetch %s: %w", redact(page), err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, errs.Unreachable(fmt.Errorf("fetch %s: %s", redact(page), resp.Status))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetch %s: %s", redact(page), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, errs.Unreachable(fmt.Errorf("read %s: %w", redact(page), err))
	}
	final := resp.Request.URL
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var out []File
	if mt == "application/vnd.pypi.simple.v1+json" {
		var p pep691Page
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", redact(page), err)
		}
		for _, f := range p.Files {
			u, err := final.Parse(f.URL)
			if err != nil {
				continue
			}
			yanked := len(f.Yanked) > 0 && string(f.Yanked) != "false" && string(f.Yanked) != "null"
			out = append(out, File{Filename: f.Filename, URL: u.String(), SHA256: strings.ToLower(f.Hashes["sha256"]), Yanked: yanked})
		}
	} else {
		for _, m := range anchorRe.FindAllSubmatch(body, -1) {
			attrs, text := string(m[1]), html.UnescapeString(strings.TrimSpace(string(m[2])))
			hm := hrefRe.FindStringSubmatch(attrs)
			if hm == nil {
				continue
			}
			href := html.UnescapeString(hm[2] + hm[3])
			u, err := final.Parse(href)
			if err != nil {
				continue
			}
			sum := ""
			if v, ok := strings.CutPrefix(u.Fragment, "sha256="); ok {
				sum = strings.ToLower(v)
			}
			u.Fragment = ""
			out = append(out, File{Filename: text, URL: u.String(), SHA256: sum, Yanked: strings.Contains(strings.ToLower(attrs), "data-yanked")})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Filename < out[j].Filename })
	return out, nil
}

// Open downloads a file.
func (ix *Index) Open(ctx context.Context, f File) (io.ReadCloser, error) {
	return download(ctx, ix.client, f)
}

// download GETs f.URL. Server failures and throttling are Unreachable.
func download(ctx context.Context, client *http.Client, f File) (io.ReadCloser, error) {
	u, err := url.Parse(f.URL)
	if err != nil {
		return nil, fmt.Errorf("file URL %q: %w", f.URL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, errs.Unreachable(fmt.Errorf("download %s: %w", f.Filename, err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		err := fmt.Errorf("download %s: %s", f.Filename, resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, errs.Unreachable(err)
		}
		return nil, err
	}
	return resp.Body, nil
}

// Recorded opens each file at the URL it was recorded with (https:// or
// file://), as a provenance names it. It cannot list a project's files.
type Recorded struct{ client *http.Client }

// NewRecorded returns a source over recorded URLs; nil hc means
// http.DefaultClient.
func NewRecorded(hc *http.Client) *Recorded {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Recorded{client: hc}
}

func (r *Recorded) String() string { return "the recorded URLs" }

// Files is not supported: there is no index to ask.
func (r *Recorded) Files(context.Context, string) ([]File, error) {
	return nil, errors.New("recorded URLs cannot be listed; use a wheel dir or an index")
}

// Open reads a file:// path or downloads an http(s) URL.
func (r *Recorded) Open(ctx context.Context, f File) (io.ReadCloser, error) {
	u, err := url.Parse(f.URL)
	if err != nil {
		return nil, fmt.Errorf("file URL %q: %w", f.URL, err)
	}
	switch u.Scheme {
	case "file":
		return os.Open(u.Path)
	case "http", "https":
		return download(ctx, r.client, f)
	}
	return nil, fmt.Errorf("%s: recorded URL %q is neither file:// nor http(s)://", f.Filename, f.URL)
}
