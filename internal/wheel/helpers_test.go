package wheel

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/layer"
)

// zfile is one member of a synthetic wheel.
type zfile struct {
	name     string
	data     string
	mode     fs.FileMode // permission bits; 0 means 0644
	link     bool        // a symlink whose target is data
	noRecord bool        // leave it out of RECORD
	hash     string      // RECORD hash override
	size     string      // RECORD size override
}

// wheelSpec describes a synthetic wheel. Its METADATA, WHEEL and RECORD
// are generated unless files provide them.
type wheelSpec struct {
	name, version string
	platlib       bool   // Root-Is-Purelib: false
	wheelVersion  string // default "1.0"
	entryPoints   string
	files         []zfile
	extraRecord   []string // raw RECORD lines appended
	noMetadata    bool
}

func (s wheelSpec) distInfo() string { return s.name + "-" + s.version + ".dist-info" }
func (s wheelSpec) filename() string { return s.name + "-" + s.version + "-py3-none-any.whl" }

func b64sha256(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func sha512b64(s string) string {
	sum := sha512.Sum512([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// build writes the wheel zip with a correct RECORD (modulo overrides).
func (s wheelSpec) build(t testing.TB) []byte {
	t.Helper()
	di := s.distInfo()
	files := append([]zfile(nil), s.files...)
	has := func(n string) bool {
		for _, f := range files {
			if f.name == n {
				return true
			}
		}
		return false
	}
	if !s.noMetadata && !has(di+"/METADATA") {
		files = append(files, zfile{name: di + "/METADATA", data: fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nRequires-Dist: six (>=1.0)\n\nLong description.\n", s.name, s.version)})
	}
	if !has(di + "/WHEEL") {
		wv := s.wheelVersion
		if wv == "" {
			wv = "1.0"
		}
		files = append(files, zfile{name: di + "/WHEEL", data: fmt.Sprintf("Wheel-Version: %s\nGenerator: harden-test\nRoot-Is-Purelib: %v\nTag: py3-none-any\n", wv, !s.platlib)})
	}
	if s.entryPoints != "" {
		files = append(files, zfile{name: di + "/entry_points.txt", data: s.entryPoints})
	}
	if !has(di + "/RECORD") {
		var rec strings.Builder
		for _, f := range files {
			if f.noRecord {
				continue
			}
			h := f.hash
			if h == "" {
				h = b64sha256([]byte(f.data))
			}
			size := f.size
			if size == "" {
				size = fmt.Sprint(len(f.data))
			}
			fmt.Fprintf(&rec, "%s,%s,%s\n", csvQuote(f.name), h, size)
		}
		for _, l := range s.extraRecord {
			rec.WriteString(l + "\n")
		}
		rec.WriteString(di + "/RECORD,,\n")
		files = append(files, zfile{name: di + "/RECORD", data: rec.String()})
	}
	return zipFiles(t, files)
}

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

func zipFiles(t testing.TB, files []zfile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		if f.link {
			mode = fs.ModeSymlink | 0o777
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testScheme is a Debian-like layout.
var testScheme = Scheme{
	Purelib: "/usr/lib/python3/dist-packages",
	Platlib: "/usr/lib/python3/plat-packages",
	Scripts: "/usr/bin",
	Data:    "/usr",
	Headers: "/usr/include/python3.11",
}

const testInterp = "/usr/bin/python3.11"

func testOpts() InstallOptions {
	return InstallOptions{Scheme: testScheme, Interpreter: testInterp, Requested: true}
}

func install(t testing.TB, tree *layer.Tree, spec wheelSpec, opts InstallOptions) (*Installed, error) {
	t.Helper()
	data := spec.build(t)
	return installChecked(bytes.NewReader(data), int64(len(data)), spec.filename(), tree, opts)
}

// installChecked is Install followed by reading every streamed file, as
// writing the layer does, so that a content error fails the install; the
// tree is restored when it does.
func installChecked(r io.ReaderAt, size int64, filename string, tree *layer.Tree, opts InstallOptions) (*Installed, error) {
	res, err := Install(r, size, filename, tree, opts)
	if err != nil {
		return nil, err
	}
	for _, f := range res.Files {
		e, ok := tree.Get(f)
		if !ok || e.Open == nil {
			continue
		}
		if _, err := e.Content(); err != nil {
			for _, f := range res.Files {
				tree.Remove(f)
			}
			return nil, err
		}
	}
	return res, nil
}

// treeFiles maps every regular file and symlink of tree to its content
// (symlinks: "-> target").
func treeFiles(t testing.TB, tree *layer.Tree) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = tree.Walk(func(e *layer.Entry) error {
		switch e.Type {
		case tar.TypeReg:
			b, err := e.Content()
			if err != nil {
				t.Fatalf("read %s: %v", e.Path, err)
			}
			out["/"+e.Path] = string(b)
		case tar.TypeSymlink:
			out["/"+e.Path] = "-> " + e.Linkname
		}
		return nil
	})
	return out
}
