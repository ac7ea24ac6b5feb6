package attach

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry"
)

// Limits on what one subject's entries may make a reader fetch. Whoever
// can push writes these lists, so they bound work and memory; entries
// past a limit are reported as ignored (docs/verify.md).
const (
	// MaxBundle bounds one bundle (an SBOM attestation of a large image
	// is a few MiB).
	MaxBundle = 16 << 20
	// MaxReferrers bounds the referrer descriptors examined per subject.
	MaxReferrers = 128
	// MaxLegacyLayers bounds the entries read from one .sig or .att tag.
	MaxLegacyLayers = 128
)

// Layout names.
const (
	LayoutReferrers = "referrers"
	LayoutLegacy    = "legacy"
)

// FoundReferrer is one Sigstore bundle stored as a referrer.
type FoundReferrer struct {
	Digest v1.Hash
	// Annotations are the referrer list's, written by whoever pushed;
	// they help find entries and never say what an entry is.
	Annotations map[string]string
	Bundle      []byte
}

// Ignored is an entry that could not be read as a signature or
// attestation. Integrity is set when bytes did not match their digest.
type Ignored struct {
	Subject   string `json:"subject"`
	Layout    string `json:"layout"`
	Entry     string `json:"entry"`
	Reason    string `json:"reason"`
	Integrity bool   `json:"integrity,omitempty"`
}

// Found is everything attached to one subject.
type Found struct {
	Subject      name.Digest
	Referrers    []FoundReferrer
	Signatures   []oci.Signature // legacy .sig layers
	Attestations []oci.Signature // legacy .att layers
	// Ignored lists entries that were malformed, over a limit, or whose
	// content did not match its digest.
	Ignored []Ignored
}

// IsBundleMediaType accepts every spelling of the bundle media type.
func IsBundleMediaType(mt string) bool {
	if !strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle") {
		return false
	}
	return strings.HasSuffix(mt, "+json") || strings.Contains(mt, "+json;version=")
}

// Find reads the referrers (API or fallback tag) and legacy tags of
// subject. Nothing in the lists decides what an entry is: every listed
// referrer is fetched and kept when it holds one bundle-sized layer. An
// entry that cannot be read is recorded in Ignored and the rest go on;
// only an unreachable registry is an error.
func (s *Store) Find(ctx context.Context, subject name.Digest) (*Found, error) {
	opts := s.rc.Remote(ctx)
	f := &Found{Subject: subject}
	ignore := func(layout, entry string, err error) {
		ig := Ignored{Subject: subject.DigestStr(), Layout: layout, Entry: entry, Reason: oneLine(err.Error())}
		if registry.IsIntegrity(err) {
			ig.Integrity, ig.Reason = true, "content does not match its digest"
		}
		f.Ignored = append(f.Ignored, ig)
	}
	idx, err := remote.Referrers(subject, opts...)
	switch {
	case unreachable(err):
		return nil, registry.Classify(fmt.Errorf("list referrers of %s: %w", subject, err))
	case err != nil:
		ignore(LayoutReferrers, "referrers list", fmt.Errorf("unreadable: %w", err))
	default:
		im, err := idx.IndexManifest()
		if err != nil {
			ignore(LayoutReferrers, "referrers list", fmt.Errorf("unreadable: %w", err))
			break
		}
		// What the list says only orders the search: entries that claim
		// to be bundles are read first, so other tools' referrers cannot
		// push them past the limit. An attacker who labels junk as
		// bundles can still make verification fail, never pass.
		ds := slices.Clone(im.Manifests)
		slices.SortStableFunc(ds, func(a, b v1.Descriptor) int { return claimRank(a) - claimRank(b) })
		for i, d := range ds {
			if i == MaxReferrers {
				ignore(LayoutReferrers, fmt.Sprintf("%d more", len(ds)-i), fmt.Errorf("over the limit of %d referrers per subject; not examined", MaxReferrers))
				break
			}
			b, err := s.referrerBundle(ctx, subject.Context().Digest(d.Digest.String()))
			if unreachable(err) {
				return nil, registry.Classify(fmt.Errorf("read referrer %s of %s: %w", d.Digest, subject, err))
			}
			if err != nil {
				ignore(LayoutReferrers, d.Digest.String(), err)
				continue
			}
			f.Referrers = append(f.Referrers, FoundReferrer{Digest: d.Digest, Annotations: d.Annotations, Bundle: b})
		}
	}
	se := ociremote.SignedUnknown(subject, ociremote.WithRemoteOptions(opts...))
	tag := strings.Replace(subject.DigestStr(), ":", "-", 1)
	if f.Signatures, err = legacyLayers(se.Signatures, tag+".sig", ignore); err != nil {
		return nil, registry.Classify(fmt.Errorf("read cosign signatures of %s: %w", subject, err))
	}
	if f.Attestations, err = legacyLayers(se.Attestations, tag+".att", ignore); err != nil {
		return nil, registry.Classify(fmt.Errorf("read cosign attestations of %s: %w", subject, err))
	}
	return f, nil
}

// claimRank is 0 for a descriptor that claims to be a Sigstore bundle
// (some registries report the empty config type), else 1.
func claimRank(d v1.Descriptor) int {
	if IsBundleMediaType(d.ArtifactType) || d.ArtifactType == EmptyMediaType {
		return 0
	}
	return 1
}

// unreachable reports whether err means the registry could not be
// reached, as opposed to something it served being unusable.
func unreachable(err error) bool {
	return err != nil && errs.ExitCode(registry.Classify(err)) == errs.CodeUnreachable
}

func legacyLayers(get func() (oci.Signatures, error), tag string, ignore func(string, string, error)) ([]oci.Signature, error) {
	sigs, err := get()
	if err == nil {
		var out []oci.Signature
		out, err = sigs.Get()
		if err == nil {
			if len(out) > MaxLegacyLayers {
				ignore(LayoutLegacy, fmt.Sprintf("%s: %d more", tag, len(out)-MaxLegacyLayers), fmt.Errorf("over the limit of %d entries per tag; not examined", MaxLegacyLayers))
				out = out[:MaxLegacyLayers]
			}
			return out, nil
		}
	}
	switch {
	case registry.IsNotFound(err):
		return nil, nil
	case unreachable(err):
		return nil, err
	}
	ignore(LayoutLegacy, tag, fmt.Errorf("unreadable: %w", err))
	return nil, nil
}

// referrerBundle reads a referrer manifest by digest and its one layer.
// The layer's media type is not trusted to say what it is: whatever it
// holds is handed to bundle verification.
func (s *Store) referrerBundle(ctx context.Context, ref name.Digest) ([]byte, error) {
	img, err := remote.Image(ref, s.rc.Remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("not an image manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("unreadable manifest: %w", err)
	}
	if len(m.Layers) != 1 {
		return nil, fmt.Errorf("%d layers; a Sigstore bundle referrer has exactly one", len(m.Layers))
	}
	if m.Layers[0].Size > MaxBundle {
		return nil, fmt.Errorf("its layer claims %d bytes, over the limit of %d for a bundle", m.Layers[0].Size, MaxBundle)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxBundle+1))
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	if len(b) > MaxBundle {
		return nil, fmt.Errorf("bundle larger than the limit of %d bytes", MaxBundle)
	}
	return b, nil
}

// oneLine keeps an error message on one line and bounded.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
