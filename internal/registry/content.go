package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// CheckContent proves that every manifest, config and layer blob of idx
// matches its digest and size, as a registry checks on upload. Layers are
// hashed as stored (compressed), without the decompression a full
// validate.Index does, so it costs one read of each blob.
func CheckContent(idx v1.ImageIndex) error {
	if err := validate.Index(idx, validate.Fast); err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			if err := CheckContent(child); err != nil {
				return fmt.Errorf("index %s: %w", d.Digest, err)
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			if err := checkImage(img); err != nil {
				return fmt.Errorf("image %s: %w", d.Digest, err)
			}
		}
	}
	return nil
}

func checkImage(img v1.Image) error {
	if err := validate.Image(img, validate.Fast); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		want, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("layer %s: %w", want, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", want, err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() || n != size {
			return fmt.Errorf("layer %s: content is %s (%d bytes), the manifest says %s (%d bytes)", want, got, n, want, size)
		}
	}
	return nil
}
