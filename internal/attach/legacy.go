package attach

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/sigstore/cosign/v3/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/cosign/v3/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	ctypes "github.com/sigstore/cosign/v3/pkg/types"
	"golang.org/x/sync/errgroup"

	"github.com/harden-dev/harden/internal/registry"
)

// LegacyLayer is one entry of a cosign .sig or .att image.
type LegacyLayer struct {
	// Payload is the simple-signing JSON (.sig) or the DSSE envelope
	// JSON (.att).
	Payload []byte
	// Signature is the raw signature over Payload (.sig only).
	Signature []byte
	CertPEM   []byte
	ChainPEM  []byte
	// RekorBundle is set when the log entry has a signed entry timestamp
	// (Rekor v1); Rekor v2 entries cannot be expressed in this layout.
	RekorBundle *bundle.RekorBundle
	// Timestamp is an RFC 3161 response over the signature (.sig) or
	// over Payload (.att), as cosign verifies them.
	Timestamp     []byte
	PredicateType string // .att only
}

func (l LegacyLayer) signature(att bool) (oci.Signature, error) {
	opts := []static.Option{}
	if l.CertPEM != nil {
		opts = append(opts, static.WithCertChain(l.CertPEM, l.ChainPEM))
	}
	if l.RekorBundle != nil {
		opts = append(opts, static.WithBundle(l.RekorBundle))
	}
	if l.Timestamp != nil {
		opts = append(opts, static.WithRFC3161Timestamp(bundle.TimestampToRFC3161Timestamp(l.Timestamp)))
	}
	if att {
		opts = append(opts, static.WithLayerMediaType(ctypes.DssePayloadType),
			static.WithAnnotations(map[string]string{"predicateType": l.PredicateType}))
		return static.NewAttestation(l.Payload, opts...)
	}
	return static.NewSignature(l.Payload, base64.StdEncoding.EncodeToString(l.Signature), opts...)
}

// Dupe decides whether an existing legacy entry already says what a new
// one would, so that re-running does not append a copy.
type Dupe func(existing, fresh oci.Signature) bool

type dupeDetector Dupe

func (d dupeDetector) Find(sigs oci.Signatures, fresh oci.Signature) (oci.Signature, error) {
	have, err := sigs.Get()
	if err != nil {
		return nil, err
	}
	for _, s := range have {
		if d(s, fresh) {
			return s, nil
		}
	}
	return nil, nil
}

// writeBlobsOf uploads the blobs of the .sig or .att image se now holds
// through the store, once each, so that the push after it finds them all
// present (see Store.uploads).
func (s *Store) writeBlobsOf(ctx context.Context, subject name.Digest, se oci.SignedEntity, att bool) error {
	get := se.Signatures
	if att {
		get = se.Attestations
	}
	img, err := get()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := partial.ConfigLayer(img)
	if err != nil {
		return err
	}
	var g errgroup.Group
	g.SetLimit(4)
	for _, l := range append(layers, cfg) {
		g.Go(func() error { return s.writeBlob(ctx, subject.Context(), l) })
	}
	return g.Wait()
}

// PutLegacy appends layers to subject's sha256-<hex>.sig (att false) or
// .att (att true) image and pushes it, skipping entries dupe matches.
func (s *Store) PutLegacy(ctx context.Context, subject name.Digest, att bool, layers []LegacyLayer, dupe Dupe) error {
	opts := []ociremote.Option{ociremote.WithRemoteOptions(s.rc.Remote(ctx)...)}
	tag := ".sig"
	if att {
		tag = ".att"
	}
	unlock := s.lock(subject, tag)
	defer unlock()
	var se oci.SignedEntity = ociremote.SignedUnknown(subject, opts...)
	var mopts []mutate.SignOption
	if dupe != nil {
		mopts = append(mopts, mutate.WithDupeDetector(dupeDetector(dupe)))
	}
	for _, l := range layers {
		sig, err := l.signature(att)
		if err != nil {
			return fmt.Errorf("build legacy entry for %s: %w", subject, err)
		}
		if att {
			se, err = mutate.AttachAttestationToEntity(se, sig, mopts...)
		} else {
			se, err = mutate.AttachSignatureToEntity(se, sig, mopts...)
		}
		if err != nil {
			return registry.Classify(fmt.Errorf("read existing cosign entries of %s: %w", subject, err))
		}
	}
	write, kind := ociremote.WriteSignatures, "signatures"
	if att {
		write, kind = ociremote.WriteAttestations, "attestations"
	}
	if err := s.writeBlobsOf(ctx, subject, se, att); err != nil {
		return registry.Classify(fmt.Errorf("push cosign %s of %s: %w", kind, subject, err))
	}
	if err := write(subject.Context(), se, opts...); err != nil {
		return registry.Classify(fmt.Errorf("push cosign %s of %s: %w", kind, subject, err))
	}
	return nil
}
