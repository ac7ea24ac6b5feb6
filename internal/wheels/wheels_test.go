package wheels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/wheel"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// files served by the fake index and the dir: content is the filename.
var names = []string{
	"click-8.1.3-py3-none-any.whl",
	"click-8.1.3.tar.gz",
	"click-8.1.2-py3-none-any.whl",
	"setproctitle-1.3.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
	"setproctitle-1.3.2-cp311-cp311-manylinux_2_17_aarch64.whl",
	"onlysdist-1.0.tar.gz",
}

func indexServer(t *testing.T, html bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var downloads atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/simple/{project}/", func(w http.ResponseWriter, r *http.Request) {
		proj := r.PathValue("project")
		var mine []string
		for _, n := range names {
			if projectKey(n) == proj {
				mine = append(mine, n)
			}
		}
		if len(mine) == 0 {
			http.NotFound(w, r)
			return
		}
		if html {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<!DOCTYPE html><html><body>\n")
			for _, n := range mine {
				fmt.Fprintf(w, "<a href=\"../../files/%s#sha256=%s\" data-requires-python=\"&gt;=3.7\">%s</a><br/>\n", n, sum([]byte(n)), n)
			}
			return
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		var parts []string
		for _, n := range mine {
			parts = append(parts, fmt.Sprintf(`{"filename":%q,"url":"/files/%s","hashes":{"sha256":%q},"yanked":false}`, n, n, sum([]byte(n))))
		}
		fmt.Fprintf(w, `{"meta":{"api-version":"1.1"},"name":%q,"files":[%s]}`, proj, strings.Join(parts, ","))
	})
	mux.HandleFunc("/files/{name}", func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		fmt.Fprint(w, r.PathValue("name"))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s, &downloads
}

func testLock(t *testing.T, extra string) *lock.File {
	t.Helper()
	text := fmt.Sprintf("click==8.1.3 \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\nsetproctitle==1.3.2 \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\n%s",
		sum([]byte(names[0])), sum([]byte(names[1])), sum([]byte(names[3])), sum([]byte(names[4])), extra)
	lf, err := lock.Parse(strings.NewReader(text), "requirements.lock")
	if err != nil {
		t.Fatal(err)
	}
	return lf
}

var amd64 = wheel.Target{PythonMajor: 3, PythonMinor: 11, Implementation: "cp", Arch: "x86_64", GlibcMajor: 2, GlibcMinor: 36}

func env(t *testing.T, platform string) lock.Env {
	t.Helper()
	e, err := lock.TargetEnv("3.11.2", platform)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func checkPicks(t *testing.T, src Source) {
	t.Helper()
	ctx := context.Background()
	picks, err := Select(ctx, src, testLock(t, ""), amd64, env(t, "linux/amd64"), "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(picks) != 2 || picks[0].File.Filename != names[0] || picks[1].File.Filename != names[3] {
		t.Fatalf("picks: %+v", picks)
	}
	arm := amd64
	arm.Arch = "aarch64"
	picks, err = Select(ctx, src, testLock(t, ""), arm, env(t, "linux/arm64"), "linux/arm64")
	if err != nil || picks[1].File.Filename != names[4] {
		t.Fatalf("arm64 picks: %+v %v", picks, err)
	}
	cache, _ := NewCache(t.TempDir())
	for _, p := range picks {
		b, err := readCached(cache, ctx, src, p.File, p.File.SHA256)
		if err != nil || string(b) != p.File.Filename {
			t.Fatalf("fetch %s: %q %v", p.File.Filename, b, err)
		}
	}
}

func TestIndexJSON(t *testing.T) {
	s, _ := indexServer(t, false)
	ix, err := NewIndex(s.URL+"/simple", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPicks(t, ix)
}

func TestIndexHTML(t *testing.T) {
	s, _ := indexServer(t, true)
	ix, err := NewIndex(s.URL+"/simple/", nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := ix.Files(context.Background(), "click")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || files[0].SHA256 != sum([]byte(files[0].Filename)) || !strings.HasPrefix(files[0].URL, s.URL+"/files/") || strings.Contains(files[0].URL, "#") {
		t.Fatalf("files: %+v", files)
	}
	checkPicks(t, ix)
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkPicks(t, NewDir(dir))
}

func TestSelectErrors(t *testing.T) {
	s, _ := indexServer(t, false)
	ix, _ := NewIndex(s.URL+"/simple/", nil)
	ctx := context.Background()
	cases := []struct {
		name, extra, platform string
		target                wheel.Target
		want                  []string
	}{
		{"sdist only", "onlysdist==1.0 \\\n    --hash=sha256:" + sum([]byte("onlysdist-1.0.tar.gz")) + "\n", "linux/amd64", amd64, []string{"onlysdist==1.0", "only to an sdist", "wheels only"}},
		{"hash mismatch", "", "linux/amd64", amd64, nil},
		{"unknown project", "nothere==1.0 \\\n    --hash=sha256:" + strings.Repeat("0", 64) + "\n", "linux/amd64", amd64, []string{"nothere==1.0", "no file with a locked hash"}},
		{"no platform wheel", "", "linux/amd64", wheel.Target{PythonMajor: 3, PythonMinor: 12, Implementation: "cp", Arch: "x86_64", GlibcMajor: 2, GlibcMinor: 36}, []string{"setproctitle==1.3.2 has no wheel for linux/amd64", "cp312"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lf := testLock(t, c.extra)
			if c.name == "hash mismatch" {
				text := fmt.Sprintf("click==8.1.3 \\\n    --hash=sha256:%s\n", strings.Repeat("ab", 32))
				lf, _ = lock.Parse(strings.NewReader(text), "requirements.lock")
				c.want = []string{"hash mismatch for click==8.1.3", names[0], "re-lock"}
			}
			_, err := Select(ctx, ix, lf, c.target, env(t, c.platform), c.platform)
			if err == nil {
				t.Fatal("accepted")
			}
			if errs.ExitCode(err) != errs.CodeInput {
				t.Errorf("exit %d, want 2", errs.ExitCode(err))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestMarkersSkipRequirements(t *testing.T) {
	s, _ := indexServer(t, false)
	ix, _ := NewIndex(s.URL+"/simple/", nil)
	lf := testLock(t, "pywin32==306 ; sys_platform == \"win32\" \\\n    --hash=sha256:"+strings.Repeat("1", 64)+"\n")
	picks, err := Select(context.Background(), ix, lf, amd64, env(t, "linux/amd64"), "linux/amd64")
	if err != nil || len(picks) != 2 {
		t.Fatalf("a win32-only pin should be skipped on linux: %v %v", picks, err)
	}
}

func TestCache(t *testing.T) {
	s, downloads := indexServer(t, false)
	ix, _ := NewIndex(s.URL+"/simple/", nil)
	ctx := context.Background()
	dir := t.TempDir()
	cache, _ := NewCache(dir)
	f := File{Filename: names[0], URL: s.URL + "/files/" + names[0]}
	want := sum([]byte(names[0]))
	for i := 0; i < 2; i++ {
		if _, err := readCached(cache, ctx, ix, f, want); err != nil {
			t.Fatal(err)
		}
	}
	if downloads.Load() != 1 {
		t.Errorf("%d downloads, want 1 (second from cache)", downloads.Load())
	}
	// A corrupted cache entry is detected and replaced.
	p := filepath.Join(dir, "sha256", want[:2], want)
	if err := os.WriteFile(p, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := readCached(cache, ctx, ix, f, want); err != nil || string(b) != names[0] || downloads.Load() != 2 {
		t.Errorf("corrupt cache: %q %v downloads=%d", b, err, downloads.Load())
	}
	// Content that does not match is refused and not cached.
	bad := strings.Repeat("cd", 32)
	if _, err := readCached(cache, ctx, ix, f, bad); err == nil || !strings.Contains(err.Error(), "hash mismatch") {
		t.Errorf("mismatching download: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sha256", bad[:2], bad)); !os.IsNotExist(err) {
		t.Error("mismatching download was cached")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "sha256", want[:2]))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in cache", e.Name())
		}
	}
}

func TestIndexUnreachable(t *testing.T) {
	ix, _ := NewIndex("http://127.0.0.1:1/simple/", nil)
	_, err := ix.Files(context.Background(), "click")
	if errs.ExitCode(err) != errs.CodeUnreachable {
		t.Errorf("closed port: exit %d (%v)", errs.ExitCode(err), err)
	}
	if _, err := NewIndex("ftp://x", nil); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("ftp index: %v", err)
	}
}

func TestRecorded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "a-1-py3-none-any.whl")
	if err := os.WriteFile(p, []byte("wheel"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok.whl":
			fmt.Fprint(w, "remote")
		case "/busy.whl":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	src := NewRecorded(srv.Client())
	read := func(u string) (string, error) {
		rc, err := src.Open(ctx, File{Filename: "x.whl", URL: u})
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	if got, err := read("file://" + p); err != nil || got != "wheel" {
		t.Errorf("file URL: %q %v", got, err)
	}
	if got, err := read(srv.URL + "/ok.whl"); err != nil || got != "remote" {
		t.Errorf("http URL: %q %v", got, err)
	}
	if _, err := read("file://" + filepath.Join(dir, "gone.whl")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := read(srv.URL + "/gone.whl"); err == nil || !strings.Contains(err.Error(), "404") || errs.ExitCode(err) == errs.CodeUnreachable {
		t.Errorf("404: %v", err)
	}
	if _, err := read(srv.URL + "/busy.whl"); errs.ExitCode(err) != errs.CodeUnreachable {
		t.Errorf("503 should be unreachable: %v", err)
	}
	if _, err := read("ftp://example.test/x.whl"); err == nil || !strings.Contains(err.Error(), "neither file:// nor http") {
		t.Errorf("ftp: %v", err)
	}
	if _, err := src.Files(ctx, "a"); err == nil {
		t.Error("Files should be refused")
	}
}

// readCached opens f through the cache and reads it whole.
func readCached(c *Cache, ctx context.Context, src Source, f File, want string) ([]byte, error) {
	fh, err := c.Open(ctx, src, f, want)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.NewSectionReader(fh, 0, 1<<62))
}

// A wheel directory is read in place, not copied into the cache, and a
// file changed after it was listed is refused.
func TestCacheOpenDirInPlace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, names[0])
	if err := os.WriteFile(p, []byte(names[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	src := NewDir(dir)
	files, err := src.Files(ctx, "click")
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v %v", files, err)
	}
	cacheDir := t.TempDir()
	cache, _ := NewCache(cacheDir)
	fh, err := cache.Open(ctx, src, files[0], files[0].SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if fh.Name() != p {
		t.Errorf("opened %s, not the file in the wheel directory", fh.Name())
	}
	fh.Close()
	if ents, _ := os.ReadDir(cacheDir); len(ents) != 0 {
		t.Errorf("the cache holds %v after reading a wheel directory", ents)
	}
	if err := os.WriteFile(p, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Open(ctx, src, files[0], files[0].SHA256); err == nil || !strings.Contains(err.Error(), "hash mismatch") {
		t.Errorf("changed file: %v", err)
	}
}
