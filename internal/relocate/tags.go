package relocate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/registry"
)

// tagOf is the tag cosign and the referrers fallback derive from a
// digest: sha256-<hex> plus suffix.
func tagOf(subject v1.Hash, suffix string) string {
	return strings.Replace(subject.String(), ":", "-", 1) + suffix
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// completeFallback makes the destination's fallback tag of subject
// describe each copied referrer with its artifactType and annotations.
// go-containerregistry adds them when it lists a new referrer, but an
// entry written earlier by another tool may lack them (cosign#4641), and
// verifiers that filter by artifactType then miss it. Other entries are
// left as they are.
func (c *copier) completeFallback(ctx context.Context, subject v1.Hash) error {
	tag := c.dstRepo.Tag(tagOf(subject, ""))
	desc, err := c.dstPull.Get(ctx, tag)
	if registry.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return c.fail("read fallback tag "+tag.String(), err)
	}
	if desc.MediaType != types.OCIImageIndex {
		return nil
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(desc.Manifest, &im); err != nil {
		return fmt.Errorf("fallback tag %s: %w", tag, err)
	}
	changed := false
	for i, d := range im.Manifests {
		m, ok := c.attached[d.Digest]
		if !ok {
			continue
		}
		// The entry describes this exact manifest, so the manifest's own
		// artifactType and annotations are the right ones.
		if at := artifactType(m); at != "" && d.ArtifactType != at {
			im.Manifests[i].ArtifactType, changed = at, true
		}
		for k, v := range m.Annotations {
			if got, ok := d.Annotations[k]; !ok || got != v {
				if im.Manifests[i].Annotations == nil {
					im.Manifests[i].Annotations = map[string]string{}
				}
				im.Manifests[i].Annotations[k], changed = v, true
			}
		}
	}
	if !changed {
		return nil
	}
	raw, err := json.Marshal(im)
	if err != nil {
		return err
	}
	if err := c.push.Put(ctx, tag, rawManifest{raw: raw, mt: types.OCIImageIndex}); err != nil {
		return c.fail("update fallback tag "+tag.String(), err)
	}
	c.record(Object{Kind: KindFallback, Ref: tag.TagStr(), Subject: subject.String(), Status: StatusUpdated})
	return nil
}

// copyLegacy copies cosign's .sig and .att tags of subject. A tag the
// destination lacks is copied as it is (same digest); one it has with
// other content keeps its entries and gains the source's missing ones.
func (c *copier) copyLegacy(ctx context.Context, subject v1.Hash) error {
	for _, suffix := range []string{".sig", ".att"} {
		tag := tagOf(subject, suffix)
		err := c.copyLegacyTag(ctx, subject, tag)
		if err != nil && skippable(err) {
			c.mu.Lock()
			delete(c.legacy, tag)
			c.mu.Unlock()
			c.skip("tag "+tag, subject.String(), err)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) copyLegacyTag(ctx context.Context, subject v1.Hash, tag string) error {
	object := "tag " + tag
	src, err := c.srcPull.Get(ctx, c.srcRepo.Tag(tag))
	if registry.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return c.fail(object, err)
	}
	if !src.MediaType.IsImage() {
		return malformed("%s is a %q, not an image", object, src.MediaType)
	}
	sm, err := parseManifest(src)
	if err != nil {
		return fmt.Errorf("%s: %w", object, err)
	}
	c.mu.Lock()
	c.legacy[tag] = sm.Layers
	c.mu.Unlock()
	dstTag := c.dstRepo.Tag(tag)
	dst, err := c.dstPull.Get(ctx, dstTag)
	switch {
	case registry.IsNotFound(err):
		if err := c.copyBlobs(ctx, object, blobsOf(sm), true); err != nil {
			return err
		}
		if err := c.push.Put(ctx, dstTag, src); err != nil {
			return c.fail("write "+object, err)
		}
		c.record(Object{Kind: KindLegacyTag, Ref: tag, Subject: subject.String(), Status: StatusCopied, Added: len(sm.Layers)})
		return nil
	case err != nil:
		return c.fail(object+" at "+c.dstRepo.String(), err)
	case dst.Digest == src.Digest:
		// Checked like every other blob, so that counts agree across runs.
		if err := c.copyBlobs(ctx, object, blobsOf(sm), true); err != nil {
			return err
		}
		c.record(Object{Kind: KindLegacyTag, Ref: tag, Subject: subject.String(), Status: StatusPresent})
		return nil
	}
	return c.mergeLegacy(ctx, subject, object, dstTag, src, sm, dst)
}

// mergeLegacy adds the source's entries that the destination's tag lacks.
// Entries are layer descriptors: cosign's simple-signing payload is the
// same for every signer of an image, so an entry is new unless the
// destination has a layer with the same digest, media type and
// annotations (where the signature and certificate live).
func (c *copier) mergeLegacy(ctx context.Context, subject v1.Hash, object string, dstTag name.Tag, src *remote.Descriptor, sm *manifestFields, dst *remote.Descriptor) error {
	if !dst.MediaType.IsImage() {
		return malformed("%s at %s is a %q; it cannot take the source's entries", object, c.dstRepo, dst.MediaType)
	}
	dm, err := parseManifest(dst)
	if err != nil {
		return fmt.Errorf("%s at %s: %w", object, c.dstRepo, err)
	}
	var missing []v1.Descriptor
	for _, l := range sm.Layers {
		if !hasEntry(dm.Layers, l) && !hasEntry(missing, l) {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		if err := c.copyBlobs(ctx, object, sm.Layers, true); err != nil {
			return err
		}
		c.record(Object{Kind: KindLegacyTag, Ref: dstTag.TagStr(), Subject: subject.String(), Status: StatusPresent})
		return nil
	}
	if err := c.copyBlobs(ctx, object, missing, true); err != nil {
		return err
	}
	base, err := dst.Image()
	if err != nil {
		return fmt.Errorf("%s at %s: %w", object, c.dstRepo, err)
	}
	adds := make([]mutate.Addendum, 0, len(missing))
	for _, l := range missing {
		// Read from the destination, where it now is.
		layer, err := c.dstPull.Layer(ctx, c.dstRepo.Digest(l.Digest.String()))
		if err != nil {
			return c.fail(fmt.Sprintf("blob %s of %s", l.Digest, object), err)
		}
		adds = append(adds, mutate.Addendum{Layer: layer, MediaType: l.MediaType, Annotations: l.Annotations})
	}
	merged, err := mutate.Append(base, adds...)
	if err != nil {
		return fmt.Errorf("merge %s: %w", object, err)
	}
	cfg, err := partial.ConfigLayer(merged)
	if err != nil {
		return c.fail("merge "+object, err)
	}
	if err := c.push.Upload(ctx, c.dstRepo, cfg); err != nil {
		return c.fail("write config of "+object, err)
	}
	c.mu.Lock()
	c.res.Blobs.Copied++
	c.mu.Unlock()
	if err := c.push.Put(ctx, dstTag, merged); err != nil {
		return c.fail("write "+object, err)
	}
	c.record(Object{Kind: KindLegacyTag, Ref: dstTag.TagStr(), Subject: subject.String(), Status: StatusMerged, Added: len(missing)})
	return nil
}

// hasEntry reports whether ls holds l: same digest, media type and
// annotations.
func hasEntry(ls []v1.Descriptor, l v1.Descriptor) bool {
	for _, x := range ls {
		if x.Digest == l.Digest && x.MediaType == l.MediaType && maps.Equal(x.Annotations, l.Annotations) {
			return true
		}
	}
	return false
}
