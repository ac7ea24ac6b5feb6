package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var t0 = time.Unix(1700000000, 0)

func readTar(t *testing.T, b []byte) []*tar.Header {
	t.Helper()
	var hs []*tar.Header
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}

func TestWriteTarDeterministic(t *testing.T) {
	build := func(order []string) []byte {
		tr := New()
		for _, p := range order {
			if err := tr.AddFile(p, 0o600, []byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		if err := tr.WriteTar(&b, t0.Add(500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a := build([]string{"/usr/bin/z", "usr/lib/a", "etc/passwd"})
	b := build([]string{"etc/passwd", "usr/lib/a", "/usr/bin/z"})
	if !bytes.Equal(a, b) {
		t.Fatal("insertion order changed the tar bytes")
	}
	hs := readTar(t, a)
	var names []string
	for _, h := range hs {
		names = append(names, h.Name)
		if !h.ModTime.Equal(t0) {
			t.Errorf("%s: mtime %v, want %v (truncated)", h.Name, h.ModTime, t0)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if h.Typeflag == tar.TypeReg && h.Mode != 0o644 {
			t.Errorf("%s: mode %o, want normalised 0644", h.Name, h.Mode)
		}
	}
	want := []string{"etc/", "etc/passwd", "usr/", "usr/bin/", "usr/bin/z", "usr/lib/", "usr/lib/a"}
	if len(names) != len(want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %v, want %v", names, want)
		}
	}
}

func TestLayerDigestStable(t *testing.T) {
	dir := t.TempDir()
	mk := func(epoch time.Time, c Compression) string {
		tr := New()
		_ = tr.AddFile("a/b", 0o755, []byte("x"))
		_ = tr.Add(Entry{Path: "home/u", Type: tar.TypeDir, Mode: 0o750, UID: 10001, GID: 10001})
		b, err := Writer{Dir: dir, Compression: c}.WriteTree(tr, epoch, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		return b.Digest.String()
	}
	for _, c := range []Compression{Gzip, ParallelGzip} {
		if mk(t0, c) != mk(t0, c) {
			t.Errorf("%s: same tree and mtime gave different layer digests", c)
		}
		if mk(t0, c) == mk(t0.Add(time.Second), c) {
			t.Errorf("%s: different mtime gave the same layer digest", c)
		}
	}
	if mk(t0, Gzip) == mk(t0, ParallelGzip) {
		t.Error("the two compressions gave the same bytes; the test cannot tell them apart")
	}
}

func TestAddRejects(t *testing.T) {
	tr := New()
	for _, p := range []string{"", "/", "../etc/passwd", "a/../../b"} {
		if err := tr.AddFile(p, 0o644, nil); err == nil {
			t.Errorf("AddFile(%q) accepted", p)
		}
	}
	if err := tr.AddFile("f", 0o644, nil); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddFile("f/g", 0o644, nil); err == nil {
		t.Error("a file under a regular file was accepted")
	}
	if err := tr.Add(Entry{Path: "x", Type: 'Z'}); err == nil {
		t.Error("unknown entry type accepted")
	}
}

func TestFlattenAndResolve(t *testing.T) {
	lower := New()
	_ = lower.AddFile("usr/bin/python3.11", 0o755, []byte("ELF"))
	_ = lower.AddSymlink("usr/bin/python3", "python3.11")
	_ = lower.AddSymlink("bin", "usr/bin")
	_ = lower.AddFile("etc/old", 0o644, []byte("gone"))
	_ = lower.AddSymlink("loop", "loop")
	upper := New()
	_ = upper.AddFile("etc/.wh.old", 0o644, nil)
	_ = upper.AddFile("etc/new", 0o644, []byte("here"))
	w := Writer{Dir: t.TempDir(), Compression: ParallelGzip}
	l1, err := w.WriteTree(lower, t0, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := w.WriteTree(upper, t0, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l1.Layer(), l2.Layer())
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Flatten(img, func(p string) bool { return p == "etc/new" })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fs.Get("etc/old"); ok {
		t.Error("whiteout not applied")
	}
	if e, ok := fs.Get("etc/new"); !ok || string(e.Data) != "here" {
		t.Errorf("etc/new: %+v", e)
	}
	if e, _ := fs.Get("usr/bin/python3.11"); e == nil || e.Data != nil {
		t.Error("data kept for a file not selected")
	}
	e, real, err := fs.Resolve("/bin/python3")
	if err != nil || real != "/usr/bin/python3.11" || e.Type != tar.TypeReg {
		t.Errorf("Resolve(/bin/python3) = %v, %q, %v", e, real, err)
	}
	if _, _, err := fs.Resolve("loop"); err == nil {
		t.Error("symlink loop resolved")
	}
	if _, _, err := fs.Resolve("usr/bin/nope"); err == nil {
		t.Error("missing file resolved")
	}
	if got := fs.Glob("usr/bin/python3.*"); len(got) != 1 || got[0] != "/usr/bin/python3.11" {
		t.Errorf("Glob = %v", got)
	}
}
