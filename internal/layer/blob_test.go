package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// mixedTree has compressible text, incompressible data larger than a
// pgzip block, streamed and in-memory files.
func mixedTree(t *testing.T) *Tree {
	t.Helper()
	tr := New()
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	random := make([]byte, 3*pgzipBlock+12345)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("def f(x):\n    return x * 2  # harden\n"), 80000)
	if err := tr.AddFile("usr/lib/text.py", 0o644, text); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(Entry{Path: "usr/lib/random.bin", Type: tar.TypeReg, Mode: 0o644, Size: int64(len(random)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(random)), nil }}); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddSymlink("usr/lib/link", "text.py"); err != nil {
		t.Fatal(err)
	}
	return tr
}

// The Gzip compression must give the bytes go-containerregistry gave
// harden's first layer format, or old builds could not be rebuilt.
func TestGzipMatchesFirstFormat(t *testing.T) {
	tr := mixedTree(t)
	var raw bytes.Buffer
	if err := tr.WriteTar(&raw, t0); err != nil {
		t.Fatal(err)
	}
	ref, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ref.Digest()
	wantDiff, _ := ref.DiffID()
	b, err := Writer{Dir: t.TempDir(), Compression: Gzip}.WriteTree(tr, t0, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	if b.Digest != want || b.DiffID != wantDiff {
		t.Fatalf("gzip layer %s (diff %s), go-containerregistry wrote %s (diff %s)", b.Digest, b.DiffID, want, wantDiff)
	}
}

// ParallelGzip bytes must not depend on how many blocks compress at once
// nor on how the tar stream is chunked into writes.
func TestParallelGzipIndependentOfWorkers(t *testing.T) {
	tr := mixedTree(t)
	var raw bytes.Buffer
	if err := tr.WriteTar(&raw, t0); err != nil {
		t.Fatal(err)
	}
	digests := map[v1.Hash][]string{}
	for _, workers := range []int{1, 2, 3, 8, 16} {
		for _, chunk := range []int{1 << 10, 32 << 10, 3 << 20} {
			b, err := Writer{Dir: t.TempDir(), Compression: ParallelGzip, Workers: workers}.Write(types.OCILayer, func(w io.Writer) error {
				for p := raw.Bytes(); len(p) > 0; {
					n := min(chunk, len(p))
					if _, err := w.Write(p[:n]); err != nil {
						return err
					}
					p = p[n:]
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			digests[b.Digest] = append(digests[b.Digest], fmt.Sprintf("workers=%d chunk=%d", workers, chunk))
			if got := sha256.Sum256(raw.Bytes()); fmt.Sprintf("%x", got) != b.DiffID.Hex {
				t.Fatalf("diffID %s is not the tar's sha256", b.DiffID)
			}
		}
	}
	if len(digests) != 1 {
		t.Fatalf("parallel gzip gave %d different layers: %v", len(digests), digests)
	}
}

func TestBlobLayerReadsBack(t *testing.T) {
	tr := mixedTree(t)
	b, err := Writer{Dir: t.TempDir(), Compression: ParallelGzip, Workers: 2}.WriteTree(tr, t0, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	l := b.Layer()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if d, _ := l.DiffID(); fmt.Sprintf("%x", h.Sum(nil)) != d.Hex {
		t.Fatal("uncompressed content does not hash to the diffID")
	}
	f, _ := os.ReadFile(b.Path)
	if fmt.Sprintf("%x", sha256.Sum256(f)) != b.Digest.Hex || int64(len(f)) != b.Size {
		t.Fatal("the blob file does not match its digest and size")
	}
	if mt, _ := l.MediaType(); mt != types.DockerLayer {
		t.Fatalf("media type %s", mt)
	}
}

// A source that fails, or gives fewer or more bytes than promised, fails
// the layer and leaves no file behind.
func TestWriteFailsCleanly(t *testing.T) {
	bad := errors.New("sha256 mismatch")
	for name, open := range map[string]func() (io.ReadCloser, error){
		"error at EOF": func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader("12345"), errReader{bad})), nil
		},
		"short":      func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("123")), nil },
		"long":       func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("1234567890")), nil },
		"open fails": func() (io.ReadCloser, error) { return nil, bad },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tr := New()
			if err := tr.Add(Entry{Path: "f", Type: tar.TypeReg, Mode: 0o644, Size: 5, Open: open}); err != nil {
				t.Fatal(err)
			}
			if _, err := (Writer{Dir: dir, Compression: ParallelGzip}).WriteTree(tr, t0, types.OCILayer); err == nil {
				t.Fatal("layer written from a bad source")
			}
			left, _ := filepath.Glob(filepath.Join(dir, "*"))
			hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
			if len(left)+len(hidden) != 0 {
				t.Fatalf("left behind: %v %v", left, hidden)
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
