// Package wheels finds and fetches the files a lock pins: from a PEP 691 /
// PEP 503 simple index or a local directory, through a content-addressed
// cache. Select only ever hands out files whose sha256 the lock lists;
// Metadata and Hash read the index's files for harden lock.
package wheels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	// RequiresPython is the index's requires-python for the file, "" if
	// none (PEP 691 requires-python, PEP 503 data-requires-python).
	RequiresPython string `json:"requiresPython,omitempty"`
	// CoreMetadata says whether the index serves the wheel's METADATA at
	// URL+".metadata" (PEP 658/714): "" no, "-" yes without a hash,
	// else the sha256 hex of that file.
	CoreMetadata string `json:"coreMetadata,omitempty"`
	// Provenance is what the page says of the file's PEP 740 provenance,
	// as a PEP 691 "provenance" value: nil when the page says nothing (no
	// key, no data-provenance), JSON null when it says there is none,
	// else a JSON string, the URL resolved against the page when it is
	// one. internal/upstream reads it.
	Provenance json.RawMessage `json:"provenance,omitempty"`
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
	return os.Open(d.file(f))
}

// file is where f lies in the directory.
func (d *Dir) file(f File) string { return filepath.Join(d.path, filepath.Base(f.Filename)) }

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
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		Yanked         json.RawMessage   `json:"yanked"`
		RequiresPython *string           `json:"requires-python"`
		CoreMetadata   json.RawMessage   `json:"core-metadata"`
		DistInfoMeta   json.RawMessage   `json:"dist-info-metadata"` // pre-PEP 714 name
		Provenance     json.RawMessage   `json:"provenance"`
	} `json:"files"`
}

// jsonProvenance keeps a PEP 691 provenance value, a string URL
// resolved against the page at final.
func jsonProvenance(raw json.RawMessage, final *url.URL) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		if u, err := final.Parse(s); err == nil {
			b, _ := json.Marshal(u.String())
			return b
		}
	}
	return raw
}

// jsonCoreMetadata reads a PEP 691 core-metadata value: false/absent,
// true, or a hashes dict.
func jsonCoreMetadata(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "false" {
		return ""
	}
	var hashes map[string]string
	if json.Unmarshal(raw, &hashes) == nil {
		if h := strings.ToLower(hashes["sha256"]); h != "" {
			return h
		}
	}
	return "-"
}

// htmlCoreMetadata reads a PEP 503 data-core-metadata value: "true" or
// "<alg>=<hex>".
func htmlCoreMetadata(v string) string {
	if strings.EqualFold(v, "false") {
		return ""
	}
	if h, ok := strings.CutPrefix(v, "sha256="); ok && h != "" {
		return strings.ToLower(h)
	}
	return "-"
}

var attrRe = regexp.MustCompile(`(?is)(?:^|\s)(data-[a-z-]+)\s*(?:=\s*("([^"]*)"|'([^']*)'|([^\s"'>]+)))?`)

// dataAttrs returns the data-* attributes of an anchor, names lowercased,
// values HTML-unescaped; a bare attribute has the value "".
func dataAttrs(attrs string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRe.FindAllStringSubmatch(attrs, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[3] + m[4] + m[5])
	}
	return out
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
		if out, err = JSONFiles(body, final); err != nil {
			return nil, fmt.Errorf("decode %s: %w", redact(page), err)
		}
	} else {
		out = HTMLFiles(body, final)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Filename < out[j].Filename })
	return out, nil
}

// JSONFiles reads the files of a PEP 691 project page served at final.
func JSONFiles(body []byte, final *url.URL) ([]File, error) {
	var p pep691Page
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	var out []File
	for _, f := range p.Files {
		u, err := final.Parse(f.URL)
		if err != nil {
			continue
		}
		yanked := len(f.Yanked) > 0 && string(f.Yanked) != "false" && string(f.Yanked) != "null"
		file := File{Filename: f.Filename, URL: u.String(), SHA256: strings.ToLower(f.Hashes["sha256"]), Yanked: yanked,
			CoreMetadata: jsonCoreMetadata(f.CoreMetadata), Provenance: jsonProvenance(f.Provenance, final)}
		if f.RequiresPython != nil {
			file.RequiresPython = strings.TrimSpace(*f.RequiresPython)
		}
		if file.CoreMetadata == "" {
			file.CoreMetadata = jsonCoreMetadata(f.DistInfoMeta)
		}
		out = append(out, file)
	}
	return out, nil
}

// HTMLFiles reads the anchors of a PEP 503 project page served at final.
func HTMLFiles(body []byte, final *url.URL) []File {
	var out []File
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
		data := dataAttrs(attrs)
		_, yanked := data["data-yanked"]
		file := File{Filename: text, URL: u.String(), SHA256: sum, Yanked: yanked, RequiresPython: strings.TrimSpace(data["data-requires-python"])}
		if v, ok := data["data-core-metadata"]; ok {
			file.CoreMetadata = htmlCoreMetadata(v)
		} else if v, ok := data["data-dist-info-metadata"]; ok {
			file.CoreMetadata = htmlCoreMetadata(v)
		}
		if v := strings.TrimSpace(data["data-provenance"]); v != "" {
			if pu, err := final.Parse(v); err == nil && (pu.Scheme == "https" || pu.Scheme == "http") {
				file.Provenance, _ = json.Marshal(pu.String())
			}
		}
		out = append(out, file)
	}
	return out
}

// Open downloads a file.
func (ix *Index) Open(ctx context.Context, f File) (io.ReadCloser, error) {
	return download(ctx, ix.client, f)
}

// Size limits for what is read into memory: a METADATA file, and a whole
// wheel read to get at its METADATA or its hash.
const (
	maxMetadataSize = 16 << 20
	// maxWheelSize bounds a download; wheels are streamed to disk.
	maxWheelSize = 16 << 30
)

// Metadata returns the core metadata of the wheel f offered by src. From
// an index that serves it (PEP 658), only <file URL>.metadata is fetched
// and checked against its hash; otherwise the whole wheel is read, through
// cache when cache is not nil and the index gave the file's sha256.
func Metadata(ctx context.Context, src Source, cache *Cache, f File) (*wheel.Metadata, error) {
	if ix, ok := src.(*Index); ok && f.CoreMetadata != "" {
		raw, err := ix.coreMetadata(ctx, f)
		if err != nil {
			return nil, err
		}
		md, err := wheel.ParseMetadata(raw)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("%s.metadata from %s: %w", f.Filename, src, err))
		}
		return md, nil
	}
	fh, err := openFile(ctx, src, cache, f)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	size, err := Size(fh)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Filename, err)
	}
	md, _, err := wheel.ReadMetadata(fh, size, f.Filename)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%s from %s: %w", f.Filename, src, err))
	}
	return md, nil
}

// coreMetadata fetches the PEP 658 METADATA file of f.
func (ix *Index) coreMetadata(ctx context.Context, f File) ([]byte, error) {
	u, err := url.Parse(f.URL)
	if err != nil {
		return nil, fmt.Errorf("file URL %q: %w", f.URL, err)
	}
	u.Fragment = ""
	u.Path += ".metadata"
	if u.RawPath != "" {
		u.RawPath += ".metadata"
	}
	name := f.Filename + ".metadata"
	rc, err := download(ctx, ix.client, File{Filename: name, URL: u.String()})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := readLimited(rc, maxMetadataSize, name)
	if err != nil {
		return nil, err
	}
	if want := f.CoreMetadata; want != "-" && sum256(b) != want {
		return nil, errs.Input(fmt.Errorf("hash mismatch for %s from %s: got sha256:%s, the index lists sha256:%s; refusing it", name, ix, sum256(b), want))
	}
	return b, nil
}

// Hash returns the sha256 of f: the one the source lists, or else the
// hash of the file's content, downloaded for the purpose.
func Hash(ctx context.Context, src Source, f File) (string, error) {
	if f.SHA256 != "" {
		return f.SHA256, nil
	}
	rc, err := src.Open(ctx, f)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", f.Filename, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(rc, maxWheelSize)); err != nil {
		return "", errs.Unreachable(fmt.Errorf("read %s: %w", f.Filename, err))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// openFile opens f: through cache when its sha256 is known, else a
// download spooled to an unlinked temporary file, checked against the
// listed sha256 when there is one.
func openFile(ctx context.Context, src Source, cache *Cache, f File) (*os.File, error) {
	if cache != nil && f.SHA256 != "" {
		return cache.Open(ctx, src, f, f.SHA256)
	}
	rc, err := src.Open(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Filename, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "harden-wheel-*")
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", f.Filename, err)
	}
	os.Remove(tmp.Name())
	got, err := spool(tmp, rc, f.Filename, src)
	if err == nil && f.SHA256 != "" && got != f.SHA256 {
		err = errs.Input(fmt.Errorf("hash mismatch for %s from %s: got sha256:%s, the index lists sha256:%s; refusing the file", f.Filename, src, got, f.SHA256))
	}
	if err != nil {
		tmp.Close()
		return nil, err
	}
	return tmp, nil
}

func readLimited(r io.Reader, limit int64, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, errs.Unreachable(fmt.Errorf("read %s: %w", name, err))
	}
	if int64(len(b)) > limit {
		return nil, errs.Input(fmt.Errorf("%s is larger than %d MiB; refusing it", name, limit>>20))
	}
	return b, nil
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
