package layer

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
)

// Compression names how a layer is compressed. It is part of what makes a
// build reproducible, so builds record it and rebuilds replay it.
type Compression string

const (
	// Gzip is compress/gzip at BestSpeed in one stream: the layers of
	// harden's first layer format (the same bytes go-containerregistry's
	// tarball package writes).
	Gzip Compression = "gzip"
	// ParallelGzip is klauspost/pgzip at BestSpeed in independent 1 MiB
	// blocks, each primed with the previous block's last 32 KiB. Block
	// boundaries depend only on the input, so the bytes are the same on
	// any number of CPUs; blocks compress in parallel.
	ParallelGzip Compression = "pgzip-1mib"
)

// pgzipBlock is ParallelGzip's block size; changing it changes digests.
const pgzipBlock = 1 << 20

// Check refuses a compression this harden cannot reproduce.
func (c Compression) Check() error {
	switch c {
	case Gzip, ParallelGzip:
		return nil
	}
	return fmt.Errorf("layer compression %q is unknown to this harden (it knows %q and %q); use the harden that made the build", c, Gzip, ParallelGzip)
}

func (c Compression) writer(w io.Writer, workers int) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		return gzip.NewWriterLevel(w, gzip.BestSpeed)
	case ParallelGzip:
		z, err := pgzip.NewWriterLevel(w, pgzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		if err := z.SetConcurrency(pgzipBlock, max(workers, 1)); err != nil {
			return nil, err
		}
		return z, nil
	}
	return nil, c.Check()
}

// Blob is a compressed layer stored as a file, its digests computed while
// it was written.
type Blob struct {
	Path      string
	Digest    v1.Hash // of the compressed file
	DiffID    v1.Hash // of the tar stream
	Size      int64
	MediaType types.MediaType
}

// Writer writes layers as blob files into one directory, named by digest
// as in an OCI layout's blobs/sha256.
type Writer struct {
	Dir         string
	Compression Compression
	// Workers bounds the blocks compressed at once (ParallelGzip); it
	// changes speed and memory, never the bytes.
	Workers int
}

// WriteTree writes t as a tar stream with every mtime set to mtime.
func (w Writer) WriteTree(t *Tree, mtime time.Time, mt types.MediaType) (*Blob, error) {
	return w.Write(mt, func(out io.Writer) error { return t.WriteTar(out, mtime) })
}

// Write streams what fn writes (a tar) through compression into a blob
// file, hashing both sides in the same pass. On error no file is left.
func (w Writer) Write(mt types.MediaType, fn func(io.Writer) error) (*Blob, error) {
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	f, err := os.CreateTemp(w.Dir, ".layer-*")
	if err != nil {
		return nil, fmt.Errorf("create layer file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	digest := sha256.New()
	out := &countWriter{w: io.MultiWriter(f, digest)}
	zw, err := w.Compression.writer(out, w.Workers)
	if err != nil {
		return nil, err
	}
	diffID := sha256.New()
	if err := fn(io.MultiWriter(diffID, zw)); err != nil {
		zw.Close()
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write layer file: %w", err)
	}
	b := &Blob{Digest: hashOf(digest), DiffID: hashOf(diffID), Size: out.n, MediaType: mt}
	b.Path = filepath.Join(w.Dir, b.Digest.Hex)
	if err := os.Rename(f.Name(), b.Path); err != nil {
		return nil, fmt.Errorf("store layer: %w", err)
	}
	done = true
	return b, nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Layer is b as a v1.Layer that reads the file on demand.
func (b *Blob) Layer() v1.Layer { return blobLayer{b} }

type blobLayer struct{ b *Blob }

func (l blobLayer) Digest() (v1.Hash, error)            { return l.b.Digest, nil }
func (l blobLayer) DiffID() (v1.Hash, error)            { return l.b.DiffID, nil }
func (l blobLayer) Size() (int64, error)                { return l.b.Size, nil }
func (l blobLayer) MediaType() (types.MediaType, error) { return l.b.MediaType, nil }
func (l blobLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.b.Path) }

func (l blobLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.b.Path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("layer %s: %w", l.b.Digest, err)
	}
	return readCloser{zr, func() error { return errors.Join(zr.Close(), f.Close()) }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
