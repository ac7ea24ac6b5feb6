package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PlatformImage is one platform image of an index, or a single image.
type PlatformImage struct {
	Platform v1.Platform
	Digest   string
	Image    v1.Image // lazy: its config and layers are read on use
}

// Config reads the image's config, naming the manifest on failure.
func (p PlatformImage) Config(repo name.Repository) (*v1.ConfigFile, error) {
	cf, err := p.Image.ConfigFile()
	if err != nil {
		return nil, Classify(fmt.Errorf("read config of %s: %w", repo.Digest(p.Digest), err))
	}
	return cf, nil
}

// Platforms lists the platform images of the index at ref, skipping
// entries that are not images of a platform (attestation manifests), or
// the single image at ref with the platform its config states.
func (c *Client) Platforms(ctx context.Context, ref name.Digest) ([]PlatformImage, error) {
	idx, err := c.Index(ctx, ref)
	if IsNotIndex(err) {
		img, err := c.Image(ctx, ref)
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, Classify(fmt.Errorf("read config of %s: %w", ref, err))
		}
		var p v1.Platform
		if cp := cf.Platform(); cp != nil {
			p = *cp
		}
		return []PlatformImage{{Platform: p, Digest: ref.DigestStr(), Image: img}}, nil
	}
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, Classify(fmt.Errorf("read index %s: %w", ref, err))
	}
	var out []PlatformImage
	for _, m := range im.Manifests {
		if m.Platform == nil || !m.MediaType.IsImage() || m.Platform.OS == "unknown" {
			continue
		}
		img, err := idx.Image(m.Digest)
		if err != nil {
			return nil, Classify(fmt.Errorf("pull %s: %w", ref.Context().Digest(m.Digest.String()), err))
		}
		out = append(out, PlatformImage{Platform: *m.Platform, Digest: m.Digest.String(), Image: img})
	}
	return out, nil
}

// PlatformMatches reports whether p is the platform want names, as the
// builder picks base manifests: OS and architecture, and the variant when
// want has one.
func PlatformMatches(p v1.Platform, want v1.Platform) bool {
	return p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant)
}

// FindPlatform returns the image of ps for the platform want
// ("linux/arm64").
func FindPlatform(ps []PlatformImage, want string) (PlatformImage, bool) {
	wp, err := v1.ParsePlatform(want)
	if err != nil {
		return PlatformImage{}, false
	}
	for _, p := range ps {
		if PlatformMatches(p.Platform, *wp) {
			return p, true
		}
	}
	return PlatformImage{}, false
}
