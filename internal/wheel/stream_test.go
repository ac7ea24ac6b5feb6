package wheel

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/layer"
)

// Package files are not read by Install: a tampered one installs, and
// the write of its content fails naming the wheel and the member.
func TestStreamedMemberCheckedOnWrite(t *testing.T) {
	s := demoSpec()
	s.files[1].hash = b64sha256([]byte("something else"))
	data := s.build(t)
	tree := layer.New()
	res, err := Install(bytes.NewReader(data), int64(len(data)), s.filename(), tree, testOpts())
	if err != nil {
		t.Fatalf("Install read a package file: %v", err)
	}
	var failed error
	for _, f := range res.Files {
		e, _ := tree.Get(f)
		if e.Open == nil {
			continue
		}
		if _, err := e.Content(); err != nil {
			failed = err
		}
	}
	if failed == nil || !strings.Contains(failed.Error(), "sha256 mismatch") || !strings.Contains(failed.Error(), s.files[1].name) || !strings.Contains(failed.Error(), s.filename()) {
		t.Fatalf("tampered member read back with %v", failed)
	}
}

// Metadata is read and checked at install time, not on write.
func TestMetadataCheckedAtInstall(t *testing.T) {
	s := demoSpec()
	s.files = append(s.files, zfile{name: s.distInfo() + "/METADATA", data: "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n", hash: b64sha256([]byte("x"))})
	if _, err := install(t, layer.New(), s, testOpts()); err == nil || !strings.Contains(err.Error(), "METADATA") {
		t.Fatalf("tampered METADATA: %v", err)
	}
}

// A RECORD size that disagrees with the archive's declared size is
// refused before anything is installed.
func TestDeclaredSizeChecked(t *testing.T) {
	s := demoSpec()
	s.files[1].size = "1"
	tree := layer.New()
	data := s.build(t)
	if _, err := Install(bytes.NewReader(data), int64(len(data)), s.filename(), tree, testOpts()); err == nil || !strings.Contains(err.Error(), "size mismatch") {
		t.Fatalf("size mismatch: %v", err)
	}
	if tree.Len() != 0 {
		t.Fatalf("tree changed: %d entries", tree.Len())
	}
}

func TestPerWheelLimit(t *testing.T) {
	s := demoSpec()
	s.files = append(s.files, zfile{name: "demo/big.bin", data: strings.Repeat("x", 4096)})
	opts := testOpts()
	opts.MaxSize = 2048
	_, err := install(t, layer.New(), s, opts)
	var se *SizeError
	if !errors.As(err, &se) || se.Limit != 2048 || se.Size < 4096 || !strings.Contains(err.Error(), "per-wheel limit of 2KiB") || !strings.Contains(err.Error(), s.filename()) {
		t.Fatalf("over the limit: %v", err)
	}
	opts.MaxSize = 1 << 20
	if _, err := install(t, layer.New(), s, opts); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
}

// A member that inflates beyond its declared size (a zip bomb) fails
// when streamed, after at most the declared bytes.
func TestZipBombStopsAtDeclaredSize(t *testing.T) {
	s := demoSpec()
	data := s.build(t)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the archive with one member whose header claims 100 bytes
	// but whose deflate stream holds 64 MiB of zeros.
	var bomb bytes.Buffer
	var fw bytes.Buffer
	w, _ := flate.NewWriter(&fw, flate.BestCompression)
	w.Write(make([]byte, 64<<20))
	w.Close()
	zw := zip.NewWriter(&bomb)
	small := strings.Repeat("\x00", 100)
	rec := ""
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/RECORD") {
			continue
		}
		b, _ := readMember(f)
		if f.Name == "demo/__init__.py" {
			h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, CRC32: 0, UncompressedSize64: 100, CompressedSize64: uint64(fw.Len())}
			h.SetMode(0o644)
			cw, err := zw.CreateRaw(h)
			if err != nil {
				t.Fatal(err)
			}
			cw.Write(fw.Bytes())
			rec += fmt.Sprintf("%s,%s,100\n", f.Name, b64sha256([]byte(small)))
			continue
		}
		cw, _ := zw.Create(f.Name)
		cw.Write(b)
		rec += fmt.Sprintf("%s,%s,%d\n", f.Name, b64sha256(b), len(b))
	}
	cw, _ := zw.Create(s.distInfo() + "/RECORD")
	cw.Write([]byte(rec + s.distInfo() + "/RECORD,,\n"))
	zw.Close()
	_, err = installChecked(bytes.NewReader(bomb.Bytes()), int64(bomb.Len()), s.filename(), layer.New(), testOpts())
	if err == nil || !strings.Contains(err.Error(), "demo/__init__.py") {
		t.Fatalf("zip bomb: %v", err)
	}
}
