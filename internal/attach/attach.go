// Package attach stores Sigstore signatures and attestations next to an
// image in a registry, in the two layouts verifiers read: OCI 1.1
// referrers holding bundle v0.3 (with the sha256-<hex> fallback tag where
// the registry has no referrers API), and cosign's legacy .sig/.att tags.
package attach

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry"
)

// Media types and annotations of the referrers layout.
const (
	BundleMediaType    = "application/vnd.dev.sigstore.bundle.v0.3+json"
	EmptyMediaType     = "application/vnd.oci.empty.v1+json"
	AnnotationContent  = "dev.sigstore.bundle.content"
	AnnotationPredType = "dev.sigstore.bundle.predicateType"
	AnnotationCreated  = "org.opencontainers.image.created"
	ContentDSSE        = "dsse-envelope"
	ContentMessage     = "message-signature"
)

// emptyConfig is the OCI empty descriptor's content.
var emptyConfig = []byte("{}")

// Storage says which layouts to write.
type Storage string

// The storage choices.
const (
	Both      Storage = "both"
	Referrers Storage = "referrers"
	Legacy    Storage = "legacy"
)

// Storages are the storage settings ParseStorage accepts, default first.
func Storages() []string { return []string{string(Both), string(Referrers), string(Legacy)} }

// ParseStorage reads a storage setting ("" = both).
func ParseStorage(s string) (Storage, error) {
	switch Storage(s) {
	case "":
		return Both, nil
	case Both, Referrers, Legacy:
		return Storage(s), nil
	}
	return "", errs.Input(fmt.Errorf("storage %q: use both, referrers or legacy", s))
}

// WantsReferrers reports whether the referrers layout is written.
func (s Storage) WantsReferrers() bool { return s == Both || s == Referrers }

// WantsLegacy reports whether cosign's tag layout is written.
func (s Storage) WantsLegacy() bool { return s == Both || s == Legacy }

// Store writes to and reads from one registry client.
type Store struct {
	rc *registry.Client
	// Tags are read-modify-write (the referrers fallback tag, cosign's
	// .sig and .att tags), so writes to one tag are serialised within
	// the process.
	mu    sync.Mutex
	locks map[string]*sync.Mutex
	// subjects caches what the registry said about a subject manifest:
	// it is named by digest, so the answer cannot change.
	subjects map[string]v1.Descriptor
	// uploads holds one upload per repository and blob digest. Writes to
	// several subjects share blobs (the empty config, one envelope
	// attached to the index and each platform); uploading a blob again
	// while it is present is not harmless everywhere: distribution 2.8's
	// filesystem storage rewrites the repository's link file in place,
	// and a manifest pushed meanwhile fails with DIGEST_INVALID and
	// MANIFEST_BLOB_UNKNOWN.
	uploads map[string]*upload
}

type upload struct {
	done chan struct{}
	err  error
}

// New returns a store using rc.
func New(rc *registry.Client) *Store {
	return &Store{rc: rc, locks: map[string]*sync.Mutex{}, subjects: map[string]v1.Descriptor{}, uploads: map[string]*upload{}}
}

// writeBlob uploads l to repo unless this store already has (or is
// doing so now, in which case it waits for that upload). A failed upload
// is forgotten, so a later call tries again.
func (s *Store) writeBlob(ctx context.Context, repo name.Repository, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	key := repo.String() + "@" + d.String()
	s.mu.Lock()
	u, ok := s.uploads[key]
	if !ok {
		u = &upload{done: make(chan struct{})}
		s.uploads[key] = u
	}
	s.mu.Unlock()
	if ok {
		select {
		case <-u.done:
			if u.err == nil {
				return nil
			}
			return s.writeBlob(ctx, repo, l)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	u.err = remote.WriteLayer(repo, l, s.rc.Remote(ctx)...)
	if u.err != nil {
		s.mu.Lock()
		delete(s.uploads, key)
		s.mu.Unlock()
	}
	close(u.done)
	return u.err
}

// lock serialises writes to one of subject's tags: the referrers
// fallback tag, or cosign's .sig or .att tag.
func (s *Store) lock(subject name.Digest, tag string) func() {
	key := tag + " " + subject.String()
	s.mu.Lock()
	l, ok := s.locks[key]
	if !ok {
		l = &sync.Mutex{}
		s.locks[key] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// describeSubject looks subject up in the registry once per store.
func (s *Store) describeSubject(ctx context.Context, subject name.Digest) (v1.Descriptor, error) {
	s.mu.Lock()
	d, ok := s.subjects[subject.String()]
	s.mu.Unlock()
	if ok {
		return d, nil
	}
	desc, err := remote.Head(subject, s.rc.Remote(ctx)...)
	if err != nil {
		return v1.Descriptor{}, registry.Classify(fmt.Errorf("look up %s before attaching to it: %w", subject, err))
	}
	d = v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	s.mu.Lock()
	s.subjects[subject.String()] = d
	s.mu.Unlock()
	return d, nil
}

// Referrer is one bundle to store as a referrer of a subject.
type Referrer struct {
	Bundle        []byte
	Content       string // ContentDSSE or ContentMessage
	PredicateType string // DSSE only
	Created       time.Time
}

// referrerManifest is an OCI image manifest with the 1.1 fields.
type referrerManifest struct {
	SchemaVersion int64             `json:"schemaVersion"`
	MediaType     types.MediaType   `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        v1.Descriptor     `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Subject       *v1.Descriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// PutReferrer uploads r as a referrer of subject and returns the
// referrer manifest's digest. Blobs go first, then the manifest by
// digest; go-containerregistry updates the sha256-<hex> fallback tag
// (with artifactType and annotations) when the registry has no
// referrers API.
func (s *Store) PutReferrer(ctx context.Context, subject name.Digest, r Referrer) (v1.Hash, error) {
	hs, err := s.PutReferrers(ctx, subject, []Referrer{r})
	if err != nil {
		return v1.Hash{}, err
	}
	return hs[0], nil
}

// PutReferrers stores each of rs as a referrer of subject, as
// PutReferrer does: every blob is uploaded (concurrently) before any
// manifest, then the manifests are pushed one by one, in order. It
// returns the digests of the manifests pushed, which stop at the first
// failure.
func (s *Store) PutReferrers(ctx context.Context, subject name.Digest, rs []Referrer) ([]v1.Hash, error) {
	desc, err := s.describeSubject(ctx, subject)
	if err != nil {
		return nil, err
	}
	opts := s.rc.Remote(ctx)
	cfg := static.NewLayer(emptyConfig, EmptyMediaType)
	blobs := []v1.Layer{cfg}
	layers := make([]v1.Layer, len(rs))
	for i, r := range rs {
		layers[i] = static.NewLayer(r.Bundle, BundleMediaType)
		blobs = append(blobs, layers[i])
	}
	var g errgroup.Group
	g.SetLimit(4)
	for _, l := range blobs {
		g.Go(func() error {
			if err := s.writeBlob(ctx, subject.Context(), l); err != nil {
				return registry.Classify(fmt.Errorf("upload bundle for %s: %w", subject, err))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	unlock := s.lock(subject, "referrers")
	defer unlock()
	var out []v1.Hash
	for i, r := range rs {
		ann := map[string]string{AnnotationContent: r.Content, AnnotationCreated: r.Created.UTC().Format(time.RFC3339)}
		if r.PredicateType != "" {
			ann[AnnotationPredType] = r.PredicateType
		}
		m := referrerManifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			ArtifactType:  BundleMediaType,
			Config:        describe(cfg, EmptyMediaType),
			Layers:        []v1.Descriptor{describe(layers[i], BundleMediaType)},
			Subject:       &v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size},
			Annotations:   ann,
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return out, err
		}
		h, _, err := v1.SHA256(bytes.NewReader(raw))
		if err != nil {
			return out, err
		}
		ref := subject.Context().Digest(h.String())
		if err := remote.Put(ref, rawManifest{raw: raw, mt: types.OCIManifestSchema1}, opts...); err != nil {
			return out, registry.Classify(fmt.Errorf("push referrer of %s: %w", subject, err))
		}
		out = append(out, h)
	}
	return out, nil
}

func describe(l v1.Layer, mt types.MediaType) v1.Descriptor {
	d, _ := l.Digest() // static layers cannot fail
	n, _ := l.Size()
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}
}

// ReferrersAPI reports whether the registry serves the referrers API for
// subject's repository (false means the fallback tag is used).
func (s *Store) ReferrersAPI(ctx context.Context, subject name.Digest) (bool, error) {
	reg := subject.Context().Registry
	u := fmt.Sprintf("%s://%s/v2/%s/referrers/%s", reg.Scheme(), reg.RegistryStr(), subject.Context().RepositoryStr(), subject.DigestStr())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	tr, err := s.rc.RoundTripper(ctx, subject.Context())
	if err != nil {
		return false, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return false, registry.Classify(fmt.Errorf("probe referrers API of %s: %w", reg, err))
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}
