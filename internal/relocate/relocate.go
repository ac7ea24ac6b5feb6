// Package relocate copies an image to another repository together with
// everything attached to it: the index and every platform manifest and
// blob, the OCI referrers of the index and of each platform manifest
// (through the destination's referrers API, or its sha256-<hex> fallback
// tag), and cosign's legacy sha256-<hex>.sig/.att tags. No digest of the
// image or of a referrer changes. It also imports a layout written by
// harden export, for the way back in across an air gap.
//
// A copy writes blobs before manifests, platform manifests before the
// index, the image before its referrers, and referrer manifests before the
// tags that list them, so an interrupted copy leaves nothing half-done
// visible; running it again finishes the job, and running it after success
// writes nothing.
package relocate

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/export"
	"github.com/harden-dev/harden/internal/registry"
)

// Limits on what the source may hand over. Referrers and legacy entries
// are documents (bundles, envelopes), not layers of an image.
const (
	maxManifest     = 4 << 20  // OCI's manifest limit
	maxReferrerBlob = 64 << 20 // one blob of a referrer or legacy entry
)

// Object statuses.
const (
	StatusCopied  = "copied"  // written to the destination
	StatusPresent = "present" // already there, nothing written
	StatusMerged  = "merged"  // legacy tag: the source's entries added to the destination's
	StatusUpdated = "updated" // fallback tag: descriptors completed
)

// Object kinds.
const (
	KindIndex     = "index"
	KindManifest  = "manifest"
	KindReferrer  = "referrer"
	KindLegacyTag = "legacy-tag"
	KindFallback  = "fallback-tag"
)

// Count says how many objects of one kind were copied and how many were
// already at the destination.
type Count struct {
	Copied  int `json:"copied"`
	Present int `json:"present"`
}

func (c *Count) add(status string) {
	if status == StatusPresent {
		c.Present++
	} else {
		c.Copied++
	}
}

// Object is one manifest, referrer or tag of the copy.
type Object struct {
	Kind         string `json:"kind"`
	Ref          string `json:"ref"` // digest, or tag name for tags
	Subject      string `json:"subject,omitempty"`
	ArtifactType string `json:"artifactType,omitempty"`
	Status       string `json:"status"`
	// Added is the number of entries a merge added to a legacy tag.
	Added int `json:"added,omitempty"`
}

// Skipped is a source entry that was not copied.
type Skipped struct {
	Object  string `json:"object"`
	Subject string `json:"subject,omitempty"`
	Reason  string `json:"reason"`
	// Integrity is set when its content does not match its digest.
	Integrity bool `json:"integrity,omitempty"`
}

// Result says what a copy or import did.
type Result struct {
	Source string `json:"source"`           // repo@digest as copied from (for an import: as exported)
	Layout string `json:"layout,omitempty"` // the layout directory of an import
	Image  string `json:"image"`            // the copy: destination repo@digest
	Digest string `json:"digest"`
	// ReferrersStorage is how the destination lists referrers: "api"
	// (OCI 1.1 referrers API) or "fallback-tag" (sha256-<hex> index).
	ReferrersStorage string    `json:"referrersStorage"`
	Manifests        Count     `json:"manifests"` // the index and platform manifests
	Blobs            Count     `json:"blobs"`     // every blob, image and attachments
	Referrers        Count     `json:"referrers"`
	LegacyTags       Count     `json:"legacyTags"`
	Objects          []Object  `json:"objects"`
	Skipped          []Skipped `json:"skipped,omitempty"`
	// ReadBack is true when every manifest and referrer was read back from
	// the destination by digest and every listing and tag holds what was
	// copied.
	ReadBack bool `json:"readBack"`
}

// Written reports whether the run wrote anything to the destination.
func (r *Result) Written() bool {
	return r.Manifests.Copied+r.Blobs.Copied+r.Referrers.Copied+r.LegacyTags.Copied > 0 || r.fallbackFixed()
}

func (r *Result) fallbackFixed() bool {
	for _, o := range r.Objects {
		if o.Kind == KindFallback && o.Status != StatusPresent {
			return true
		}
	}
	return false
}

// Copy copies src (an index or a single image, by digest) and everything
// attached to it into dst under the same digests, then reads the copy
// back. Malformed source entries are skipped and listed in the result; a
// source entry whose content does not match its digest is skipped too, and
// Copy then returns the result with an integrity error (exit 1).
func Copy(ctx context.Context, rc *registry.Client, src name.Digest, dst name.Repository) (*Result, error) {
	c, err := newCopier(ctx, rc, rc, src.Context(), dst)
	if err != nil {
		return nil, err
	}
	res, err := c.run(ctx, src)
	if res != nil {
		res.Source = src.String()
	}
	return res, err
}

// Import copies the image in a layout written by harden export, with
// everything exported beside it, into dst. Messages name the layout
// directory, never the loopback registry the layout is read through.
func Import(ctx context.Context, rc *registry.Client, dir string, dst name.Repository) (*Result, error) {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		return nil, errs.Input(fmt.Errorf("layout %s: %w; write one with harden export IMAGE@sha256:… --out %s", dir, err, dir))
	}
	s, err := export.Serve(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// The layout's registry needs no credentials; the destination's come
	// from rc.
	local := registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	c, err := newCopier(ctx, local, rc, s.Image.Context(), dst)
	if err != nil {
		return nil, err
	}
	c.rename = s.HideText
	res, err := c.run(ctx, s.Image)
	if res != nil {
		res.Source, res.Layout = s.Orig.String(), dir
	}
	if err != nil {
		return res, s.Hide(fmt.Errorf("import %s: %w", dir, err))
	}
	return res, nil
}

// ParseDestination reads the destination repository: a name without tag
// or digest, since the copy keeps the source's digest.
func ParseDestination(s string) (name.Repository, error) {
	repo, err := name.NewRepository(s)
	if err != nil {
		return name.Repository{}, errs.Input(fmt.Errorf("destination %q: %w; name a repository such as registry.example.com/team/app, without tag or digest (the copy keeps the source's digest)", s, err))
	}
	return repo, nil
}

// ResolveSource insists on a digest. Given a tag, it looks up the digest
// the tag points to now and says which command to run instead.
func ResolveSource(ctx context.Context, rc *registry.Client, src, dst string) (name.Digest, error) {
	if d, err := name.NewDigest(src); err == nil {
		return d, nil
	}
	tag, err := name.NewTag(src)
	if err != nil {
		return name.Digest{}, errs.Input(fmt.Errorf("source %q: %w; use REPO@sha256:<digest>", src, err))
	}
	res, rerr := rc.Resolve(ctx, tag.String())
	if rerr != nil {
		return name.Digest{}, errs.Input(fmt.Errorf("%s is a tag; copy needs REPO@sha256:<digest>, because a tag can move while the copy runs (looking up its digest failed: %v)", tag, rerr))
	}
	return name.Digest{}, errs.Input(fmt.Errorf("%s is a tag; copy needs a digest, because a tag can move while the copy runs. It points to %s now; run:\n  harden copy %s %s", tag, res.Digest, res.Pinned, dst))
}

// IntegrityError is content that does not match the digest it is
// addressed by.
type IntegrityError struct {
	Object string // what was being read, e.g. "blob sha256:… of referrer sha256:…"
	Err    error
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("%s: content does not match its digest (%v)", e.Object, e.Err)
}

func (e *IntegrityError) Unwrap() error { return e.Err }

// IsIntegrity reports whether err is (or wraps) an IntegrityError.
func IsIntegrity(err error) bool {
	var ie *IntegrityError
	return errors.As(err, &ie)
}
