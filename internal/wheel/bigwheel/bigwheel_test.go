package bigwheel

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// payload spans several members when written with a 1 MiB member size,
// the last one short.
const payload = 3<<20 + 100

// writeSmall writes bigdata 1.0 into a fresh directory with 1 MiB
// members, so the split is exercised without writing 64 MiB.
func writeSmall(t *testing.T, seed uint64) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bigdata-1.0-py3-none-any.whl")
	sum, err := write(path, "bigdata", "1.0", payload, seed, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return path, sum
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func TestLayoutAndRecord(t *testing.T) {
	path, sum := writeSmall(t, 1)
	if got := fileSHA256(t, path); got != sum {
		t.Fatalf("Write returned sha256 %s, the file has %s", sum, got)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()

	want := []string{"bigdata/__init__.py", "bigdata/data/blob-0000.bin", "bigdata/data/blob-0001.bin",
		"bigdata/data/blob-0002.bin", "bigdata/data/blob-0003.bin",
		"bigdata-1.0.dist-info/METADATA", "bigdata-1.0.dist-info/WHEEL", "bigdata-1.0.dist-info/RECORD"}
	var names []string
	files := map[string]*zip.File{}
	var blobs int64
	epoch := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range zr.File {
		names = append(names, f.Name)
		files[f.Name] = f
		if f.Flags&0x8 != 0 {
			t.Errorf("%s: data descriptor; sizes belong in the local header", f.Name)
		}
		if !f.Modified.Equal(epoch) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, epoch)
		}
		if f.Mode() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", f.Name, f.Mode())
		}
		method := zip.Deflate
		if strings.HasSuffix(f.Name, ".bin") {
			method = zip.Store
			blobs += int64(f.UncompressedSize64)
			if f.UncompressedSize64 > 1<<20 {
				t.Errorf("%s: %d bytes, more than the member size", f.Name, f.UncompressedSize64)
			}
		}
		if f.Method != method {
			t.Errorf("%s: method %d, want %d", f.Name, f.Method, method)
		}
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("members:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if blobs != payload {
		t.Errorf("blobs hold %d bytes, want %d", blobs, payload)
	}
	for name, want := range map[string]string{
		"bigdata-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: bigdata\nVersion: 1.0\n",
		"bigdata-1.0.dist-info/WHEEL":    "Wheel-Version: 1.0\nGenerator: harden-bigwheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
	} {
		if got := string(readMember(t, files[name])); !strings.HasPrefix(got, want) {
			t.Errorf("%s:\n%s\nwant it to start with:\n%s", name, got, want)
		}
	}

	// RECORD lists every member once, with a hash and size that match;
	// reading a member also checks its CRC-32.
	rows, err := csv.NewReader(bytes.NewReader(readMember(t, files["bigdata-1.0.dist-info/RECORD"]))).ReadAll()
	if err != nil {
		t.Fatalf("parse RECORD: %v", err)
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if len(row) != 3 {
			t.Fatalf("RECORD row %q: want path,hash,size", row)
		}
		name := row[0]
		if seen[name] {
			t.Errorf("RECORD lists %s twice", name)
		}
		seen[name] = true
		f := files[name]
		if f == nil {
			t.Errorf("RECORD lists %s, which is not in the wheel", name)
			continue
		}
		if name == "bigdata-1.0.dist-info/RECORD" {
			if row[1] != "" || row[2] != "" {
				t.Errorf("RECORD's own row is %q, want no hash or size", row)
			}
			continue
		}
		data := readMember(t, f)
		h := sha256.Sum256(data)
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(h[:]); row[1] != want {
			t.Errorf("RECORD: %s hash %s, the member has %s", name, row[1], want)
		}
		if row[2] != strconv.Itoa(len(data)) {
			t.Errorf("RECORD: %s size %s, the member has %d bytes", name, row[2], len(data))
		}
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("RECORD does not list %s", n)
		}
	}

	// Incompressible: deflate gains nothing on a blob.
	blob := readMember(t, files["bigdata/data/blob-0000.bin"])
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(blob)
	fw.Close()
	if comp.Len() < len(blob) {
		t.Errorf("blob-0000 deflates from %d to %d bytes; the payload should be incompressible", len(blob), comp.Len())
	}
	// Each blob has its own stream.
	if b1 := readMember(t, files["bigdata/data/blob-0001.bin"]); bytes.Equal(blob[:4096], b1[:4096]) {
		t.Error("blob-0000 and blob-0001 start with the same bytes")
	}
}

func readMember(t *testing.T, f *zip.File) []byte {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", f.Name, err)
	}
	return data
}

func TestReproducible(t *testing.T) {
	a, sumA := writeSmall(t, 7)
	b, sumB := writeSmall(t, 7)
	_, sumC := writeSmall(t, 8)
	if sumA != sumB {
		t.Errorf("same seed, different wheels: %s and %s", sumA, sumB)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Error("same seed, different bytes")
	}
	if sumA == sumC {
		t.Errorf("seeds 7 and 8 give the same wheel %s", sumA)
	}
}

// TestWrite covers the exported entry point: one member of 64 MiB at
// most, so a small payload stays in one blob.
func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big_data-2.0-py3-none-any.whl")
	sum, err := Write(path, "big-data", "2.0", payload, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := fileSHA256(t, path); got != sum {
		t.Fatalf("Write returned sha256 %s, the file has %s", sum, got)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := "big_data/__init__.py big_data/data/blob-0000.bin big_data-2.0.dist-info/METADATA big_data-2.0.dist-info/WHEEL big_data-2.0.dist-info/RECORD"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("members %s, want %s", got, want)
	}
}

func TestInvalid(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		file, dist, version string
		payload             int64
	}{
		{"bigdata-1.0-py3-none-any.whl", "bigdata", "1.0", -1},
		{"other-1.0-py3-none-any.whl", "bigdata", "1.0", 1},
		{"bigdata-1.0.whl", "bigdata", "1.0", 1},
		{"bigdata-1-0-py3-none-any.whl", "bigdata", "1-0", 1},
		{"-1.0-py3-none-any.whl", "", "1.0", 1},
	} {
		path := filepath.Join(dir, c.file)
		if _, err := Write(path, c.dist, c.version, c.payload, 1); err == nil {
			t.Errorf("Write(%s, %q, %q, %d): no error", c.file, c.dist, c.version, c.payload)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("Write(%s) failed but left the file", c.file)
		}
	}
}

// TestPipInstalls installs the wheel with the host's pip, which checks
// the zip and RECORD as any user's pip would, and compares the files.
func TestPipInstalls(t *testing.T) {
	if out, err := exec.Command("python3", "-m", "pip", "--version").CombinedOutput(); err != nil {
		if os.Getenv("HARDEN_REQUIRE_PIP") == "1" {
			t.Fatalf("HARDEN_REQUIRE_PIP=1 but python3 -m pip --version failed: %v\n%s", err, out)
		}
		t.Skipf("skipping: python3 -m pip --version failed (%v): no pip to install the wheel with", err)
	}
	path, _ := writeSmall(t, 5)
	target := filepath.Join(t.TempDir(), "target")
	cmd := exec.Command("python3", "-m", "pip", "install", "--no-deps", "--no-compile", "--no-index",
		"--disable-pip-version-check", "--target", target, path)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PIP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PIP_CONFIG_FILE="+os.DevNull)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/RECORD") {
			continue // pip rewrites it
		}
		got, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(f.Name)))
		if err != nil {
			t.Errorf("pip did not install %s: %v", f.Name, err)
			continue
		}
		if !bytes.Equal(got, readMember(t, f)) {
			t.Errorf("pip installed %s with other contents", f.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(target, "bigdata-1.0.dist-info", "RECORD")); err != nil {
		t.Errorf("pip wrote no RECORD: %v", err)
	}
}

// The blob seeds differ in the seed and in the blob index.
func TestBlobSeed(t *testing.T) {
	a, b, c := blobSeed(1, 0), blobSeed(1, 1), blobSeed(2, 0)
	if a == b || a == c {
		t.Error("blob seeds collide")
	}
	if binary.LittleEndian.Uint64(a[:]) != 1 {
		t.Error("the seed is not in the first 8 bytes")
	}
}
