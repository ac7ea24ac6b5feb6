package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// CheckContent accepts an intact layout and names the layer whose bytes
// were changed on disk, without decompressing anything.
func TestCheckContent(t *testing.T) {
	idx, err := random.Index(512, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, idx)
	if err != nil {
		t.Fatal(err)
	}
	read := func() error {
		top, err := p.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		return CheckContent(top)
	}
	if err := read(); err != nil {
		t.Fatalf("intact layout: %v", err)
	}
	im, _ := idx.IndexManifest()
	img, _ := idx.Image(im.Manifests[1].Digest)
	layers, _ := img.Layers()
	ld, _ := layers[1].Digest()
	blob := filepath.Join(dir, "blobs", "sha256", ld.Hex)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = read()
	if err == nil || !strings.Contains(err.Error(), ld.String()) {
		t.Fatalf("corrupted layer %s: got %v", ld, err)
	}
}
