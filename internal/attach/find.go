package attach

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"

	"github.com/harden-dev/harden/internal/registry"
)

// maxBundle bounds a bundle read from a registry.
const maxBundle = 16 << 20

// FoundReferrer is one Sigstore bundle stored as a referrer.
type FoundReferrer struct {
	Digest      v1.Hash
	Annotations map[string]string
	Bundle      []byte
}

// Found is everything attached to one subject.
type Found struct {
	Subject      name.Digest
	Referrers    []FoundReferrer
	Signatures   []oci.Signature // legacy .sig layers
	Attestations []oci.Signature // legacy .att layers
}

// IsBundleMediaType accepts every spelling of the bundle media type.
func IsBundleMediaType(mt string) bool {
	if !strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle") {
		return false
	}
	return strings.HasSuffix(mt, "+json") || strings.Contains(mt, "+json;version=")
}

// Find reads the referrers (API or fallback tag) and legacy tags of
// subject. Referrers that are not Sigstore bundles are ignored.
func (s *Store) Find(ctx context.Context, subject name.Digest) (*Found, error) {
	opts := s.rc.Remote(ctx)
	f := &Found{Subject: subject}
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("list referrers of %s: %w", subject, err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", subject, err)
	}
	for _, d := range im.Manifests {
		// Some registries report the config media type as artifactType
		// (go-containerregistry's own does), so an empty-config artifact
		// is looked at too.
		if !IsBundleMediaType(d.ArtifactType) && d.ArtifactType != EmptyMediaType {
			continue
		}
		b, err := s.referrerBundle(ctx, subject.Context().Digest(d.Digest.String()))
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		f.Referrers = append(f.Referrers, FoundReferrer{Digest: d.Digest, Annotations: d.Annotations, Bundle: b})
	}
	se := ociremote.SignedUnknown(subject, ociremote.WithRemoteOptions(opts...))
	if f.Signatures, err = legacyLayers(se.Signatures); err != nil {
		return nil, registry.Classify(fmt.Errorf("read cosign signatures of %s: %w", subject, err))
	}
	if f.Attestations, err = legacyLayers(se.Attestations); err != nil {
		return nil, registry.Classify(fmt.Errorf("read cosign attestations of %s: %w", subject, err))
	}
	return f, nil
}

func legacyLayers(get func() (oci.Signatures, error)) ([]oci.Signature, error) {
	sigs, err := get()
	if err != nil {
		if registry.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return sigs.Get()
}

func (s *Store) referrerBundle(ctx context.Context, ref name.Digest) ([]byte, error) {
	img, err := remote.Image(ref, s.rc.Remote(ctx)...)
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("read referrer %s: %w", ref, err))
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("read referrer %s: %w", ref, err))
	}
	if len(m.Layers) == 0 || !IsBundleMediaType(string(m.Layers[0].MediaType)) {
		return nil, nil // not a Sigstore bundle
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", ref, err)
	}
	if len(layers) != 1 {
		return nil, fmt.Errorf("referrer %s has %d layers; a Sigstore bundle referrer has exactly one", ref, len(layers))
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("read bundle of %s: %w", ref, err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxBundle+1))
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("read bundle of %s: %w", ref, err))
	}
	if len(b) > maxBundle {
		return nil, fmt.Errorf("bundle of %s is larger than %d bytes", ref, maxBundle)
	}
	return b, nil
}
