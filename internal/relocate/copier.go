package relocate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry"
)

// blobJobs bounds concurrent blob copies.
const blobJobs = 4

// copier copies from one repository (read with src) to another (written
// with dst). It is used for one run.
type copier struct {
	srcRepo, dstRepo name.Repository
	srcOpts, dstOpts []remote.Option
	srcPull, dstPull *remote.Puller
	push             *remote.Pusher
	store            *attach.Store // destination: referrers API probe
	// rename rewrites names in messages (an import's loopback registry).
	rename func(string) string

	mu    sync.Mutex
	res   *Result
	blobs map[v1.Hash]string // status of each blob seen in this run
	// attached holds each referrer copied or found, by digest, and
	// legacy the source's entries of each legacy tag, for the read-back.
	attached map[v1.Hash]*manifestFields
	legacy   map[string][]v1.Descriptor
	// integrity lists source entries skipped because their content does
	// not match their digest.
	integrity []string
}

func newCopier(ctx context.Context, src, dst *registry.Client, srcRepo, dstRepo name.Repository) (*copier, error) {
	c := &copier{srcRepo: srcRepo, dstRepo: dstRepo, srcOpts: src.Remote(ctx), dstOpts: dst.Remote(ctx),
		store: attach.New(dst), rename: func(s string) string { return s }, blobs: map[v1.Hash]string{},
		attached: map[v1.Hash]*manifestFields{}, legacy: map[string][]v1.Descriptor{}}
	var err1, err2, err3 error
	c.srcPull, err1 = remote.NewPuller(c.srcOpts...)
	c.dstPull, err2 = remote.NewPuller(c.dstOpts...)
	c.push, err3 = remote.NewPusher(c.dstOpts...)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("set up registry clients: %w", err)
	}
	return c, nil
}

// malformedError is a source entry that cannot be copied as it is; it is
// skipped and reported.
type malformedError struct{ reason string }

func (e *malformedError) Error() string { return e.reason }

func malformed(format string, args ...any) error {
	return &malformedError{reason: fmt.Sprintf(format, args...)}
}

func (c *copier) run(ctx context.Context, src name.Digest) (*Result, error) {
	h, err := v1.NewHash(src.DigestStr())
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%s: %w", src, err))
	}
	c.res = &Result{Image: c.dstRepo.Digest(h.String()).String(), Digest: h.String()}
	desc, err := c.srcPull.Get(ctx, src)
	if err != nil {
		return nil, c.fail("image "+h.String(), err)
	}
	// The image: blobs, platform manifests, then the index.
	subjects, err := c.copyImage(ctx, desc)
	if err != nil {
		return nil, err
	}
	// Asked once the image is there: a registry may answer 404 for a
	// repository it does not have yet.
	api, err := c.store.ReferrersAPI(ctx, c.dstRepo.Digest(h.String()))
	if err != nil {
		return nil, err
	}
	c.res.ReferrersStorage = "fallback-tag"
	if api {
		c.res.ReferrersStorage = "api"
	}
	// Then what is attached to it, subject by subject.
	for _, sub := range subjects {
		if err := c.copyReferrers(ctx, sub); err != nil {
			return nil, err
		}
		if !api {
			if err := c.completeFallback(ctx, sub); err != nil {
				return nil, err
			}
		}
		if err := c.copyLegacy(ctx, sub); err != nil {
			return nil, err
		}
	}
	if err := c.readBack(ctx, subjects); err != nil {
		return c.res, err
	}
	c.res.ReadBack = true
	if len(c.integrity) > 0 {
		return c.res, errs.Check(fmt.Errorf("%s; the rest was copied. Replace or remove these entries at the source and run the copy again", strings.Join(c.integrity, "; ")))
	}
	return c.res, nil
}

// fail classifies an error about object: content that does not match its
// digest is an integrity failure (exit 1); the rest as registry errors.
func (c *copier) fail(object string, err error) error {
	if IsIntegrity(err) {
		return err
	}
	if contentMismatch(err) {
		return errs.Check(&IntegrityError{Object: object, Err: err})
	}
	return registry.Classify(fmt.Errorf("%s: %w", object, err))
}

func (c *copier) record(o Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Objects = append(c.res.Objects, o)
	switch o.Kind {
	case KindIndex, KindManifest:
		c.res.Manifests.add(o.Status)
	case KindReferrer:
		c.res.Referrers.add(o.Status)
	case KindLegacyTag:
		c.res.LegacyTags.add(o.Status)
	}
}

// skip records a source entry that is not copied. An integrity failure
// also makes the run fail at its end.
func (c *copier) skip(object, subject string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Skipped{Object: object, Subject: subject, Reason: c.rename(err.Error()), Integrity: IsIntegrity(err)}
	c.res.Skipped = append(c.res.Skipped, s)
	if s.Integrity {
		var ie *IntegrityError
		errors.As(err, &ie)
		c.integrity = append(c.integrity, fmt.Sprintf("%s: content does not match its digest", c.rename(ie.Object)))
	}
}

// skippable reports whether err concerns one source entry only (it is
// malformed, missing or corrupt) rather than the whole run.
func skippable(err error) bool {
	var me *malformedError
	return errors.As(err, &me) || IsIntegrity(err) || errs.ExitCode(err) == errs.CodeInput
}

// manifestFields are the parts of an image manifest or index a copy needs.
type manifestFields struct {
	MediaType    types.MediaType   `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *v1.Descriptor    `json:"config"`
	Layers       []v1.Descriptor   `json:"layers"`
	Manifests    []v1.Descriptor   `json:"manifests"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

func parseManifest(desc *remote.Descriptor) (*manifestFields, error) {
	var m manifestFields
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, malformed("manifest %s is not JSON: %v", desc.Digest, err)
	}
	switch {
	case desc.MediaType.IsIndex():
		if m.Config != nil || len(m.Layers) > 0 {
			return nil, malformed("index %s has a config or layers", desc.Digest)
		}
	case desc.MediaType.IsImage():
		if m.Config == nil {
			return nil, malformed("manifest %s has no config", desc.Digest)
		}
	default:
		return nil, malformed("%s is a %q, not an image manifest or index", desc.Digest, desc.MediaType)
	}
	return &m, nil
}

// blobsOf lists the blobs an image manifest refers to, config first.
func blobsOf(m *manifestFields) []v1.Descriptor {
	if m.Config == nil {
		return nil
	}
	return append([]v1.Descriptor{*m.Config}, m.Layers...)
}

// copyImage copies the image at desc (an index with its children, or one
// image) and returns the subjects whose attachments follow: the image,
// then each manifest of an index.
func (c *copier) copyImage(ctx context.Context, desc *remote.Descriptor) ([]v1.Hash, error) {
	subjects := []v1.Hash{desc.Digest}
	m, err := parseManifest(desc)
	if err != nil {
		return nil, errs.Check(fmt.Errorf("image %s: %w", desc.Digest, err))
	}
	for _, child := range m.Manifests {
		subjects = append(subjects, child.Digest)
	}
	kind := KindManifest
	if desc.MediaType.IsIndex() {
		kind = KindIndex
	}
	status, err := c.copyTree(ctx, desc, m, fmt.Sprintf("%s %s", kind, desc.Digest), false, false)
	if err != nil {
		var me *malformedError
		if errors.As(err, &me) {
			return nil, errs.Check(err) // the image itself cannot be skipped
		}
		return nil, err
	}
	c.record(Object{Kind: kind, Ref: desc.Digest.String(), Status: status})
	return subjects, nil
}

// copyTree copies one manifest after everything it refers to (an index's
// manifests, an image's blobs) and returns whether it was copied or
// present. attached marks a referrer, whose blobs are limited in size;
// force puts the manifest even when the destination has it.
func (c *copier) copyTree(ctx context.Context, desc *remote.Descriptor, m *manifestFields, object string, attached, force bool) (string, error) {
	ref := c.dstRepo.Digest(desc.Digest.String())
	present, err := c.manifestExists(ctx, ref)
	if err != nil {
		return "", err
	}
	if desc.MediaType.IsIndex() {
		for _, child := range m.Manifests {
			what := fmt.Sprintf("manifest %s of %s", child.Digest, object)
			if child.Size > maxManifest {
				return "", malformed("%s is listed at %d bytes; a manifest is at most %d", what, child.Size, maxManifest)
			}
			cd, err := c.srcPull.Get(ctx, c.srcRepo.Digest(child.Digest.String()))
			if err != nil {
				return "", c.fail(what, err)
			}
			cm, err := parseManifest(cd)
			if err != nil {
				return "", fmt.Errorf("%s: %w", object, err)
			}
			status, err := c.copyTree(ctx, cd, cm, what, attached, false)
			if err != nil {
				return "", err
			}
			if !attached {
				c.record(Object{Kind: KindManifest, Ref: child.Digest.String(), Status: status})
			}
		}
	} else if err := c.copyBlobs(ctx, object, blobsOf(m), attached); err != nil {
		return "", err
	}
	if present && !force {
		return StatusPresent, nil
	}
	// The exact bytes read from the source: the digest cannot change.
	if err := c.push.Put(ctx, ref, desc); err != nil {
		return "", c.fail("write "+object, err)
	}
	return StatusCopied, nil
}

// copyBlobs copies the blobs that the destination lacks. With limited
// set, a blob larger than maxReferrerBlob makes the entry malformed.
func (c *copier) copyBlobs(ctx context.Context, object string, blobs []v1.Descriptor, limited bool) error {
	for _, b := range blobs {
		if b.Size < 0 || (limited && b.Size > maxReferrerBlob) {
			return malformed("%s: blob %s of %d bytes is over the limit of %d bytes", object, b.Digest, b.Size, maxReferrerBlob)
		}
		if len(b.URLs) > 0 {
			return malformed("%s: blob %s is foreign (served from %s); foreign layers are not copied", object, b.Digest, strings.Join(b.URLs, ", "))
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(blobJobs)
	for _, b := range blobs {
		c.mu.Lock()
		_, seen := c.blobs[b.Digest]
		if !seen {
			c.blobs[b.Digest] = ""
		}
		c.mu.Unlock()
		if seen {
			continue
		}
		g.Go(func() error {
			status, err := c.copyBlob(gctx, object, b)
			c.mu.Lock()
			defer c.mu.Unlock()
			if err != nil {
				delete(c.blobs, b.Digest)
				return err
			}
			c.blobs[b.Digest] = status
			c.res.Blobs.add(status)
			return nil
		})
	}
	return g.Wait()
}

func (c *copier) copyBlob(ctx context.Context, object string, b v1.Descriptor) (string, error) {
	what := fmt.Sprintf("blob %s of %s", b.Digest, object)
	ok, err := c.blobExists(ctx, b.Digest)
	if err != nil {
		return "", err
	}
	if ok {
		return StatusPresent, nil
	}
	l, err := c.srcPull.Layer(ctx, c.srcRepo.Digest(b.Digest.String()))
	if err != nil {
		return "", c.fail(what, err)
	}
	// Mount only within one registry: a mount request names the source,
	// which another registry neither can use nor needs to see.
	if ml, ok := l.(*remote.MountableLayer); ok && c.srcRepo.RegistryStr() != c.dstRepo.RegistryStr() {
		l = ml.Layer
	}
	if err := c.push.Upload(ctx, c.dstRepo, l); err != nil {
		return "", c.fail(what, err)
	}
	return StatusCopied, nil
}

// blobExists asks the destination for a blob (HEAD).
func (c *copier) blobExists(ctx context.Context, h v1.Hash) (bool, error) {
	l, err := c.dstPull.Layer(ctx, c.dstRepo.Digest(h.String()))
	if err == nil {
		_, err = l.Size()
	}
	switch {
	case err == nil:
		return true, nil
	case registry.IsNotFound(err):
		return false, nil
	}
	return false, registry.Classify(fmt.Errorf("look up blob %s at %s: %w", h, c.dstRepo, err))
}

// manifestExists asks the destination for a manifest by digest (HEAD).
func (c *copier) manifestExists(ctx context.Context, ref name.Digest) (bool, error) {
	_, err := c.dstPull.Head(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case registry.IsNotFound(err):
		return false, nil
	}
	return false, c.fail("look up "+ref.String(), err)
}

// listed returns the destination's referrers of subject by digest.
func (c *copier) listed(ctx context.Context, repo name.Repository, opts []remote.Option, subject v1.Hash) (map[v1.Hash]v1.Descriptor, error) {
	idx, err := remote.Referrers(repo.Digest(subject.String()), opts...)
	if err != nil {
		return nil, c.fail(fmt.Sprintf("list referrers of %s at %s", subject, repo), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, malformed("the referrers listing of %s at %s is not an index: %v", subject, repo, err)
	}
	out := map[v1.Hash]v1.Descriptor{}
	for _, d := range im.Manifests {
		out[d.Digest] = d
	}
	return out, nil
}

// copyReferrers copies each referrer of subject that the destination does
// not list yet. A referrer that is present but not listed (a run cut off
// between the manifest and the fallback tag) is written again, which
// lists it.
func (c *copier) copyReferrers(ctx context.Context, subject v1.Hash) error {
	src, err := c.listed(ctx, c.srcRepo, c.srcOpts, subject)
	if err != nil && skippable(err) {
		c.skip("referrers of "+subject.String(), subject.String(), err)
		return nil
	}
	if err != nil {
		return err
	}
	dst, err := c.listed(ctx, c.dstRepo, c.dstOpts, subject)
	if err != nil {
		return err
	}
	digests := make([]v1.Hash, 0, len(src))
	for h := range src {
		digests = append(digests, h)
	}
	sort.Slice(digests, func(i, j int) bool { return digests[i].String() < digests[j].String() })
	for _, h := range digests {
		d := src[h]
		object := fmt.Sprintf("referrer %s of %s", h, subject)
		err := c.copyReferrer(ctx, subject, d, dst)
		if err != nil && skippable(err) {
			c.skip(object, subject.String(), err)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) copyReferrer(ctx context.Context, subject v1.Hash, d v1.Descriptor, dst map[v1.Hash]v1.Descriptor) error {
	object := fmt.Sprintf("referrer %s of %s", d.Digest, subject)
	if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
		return malformed("%s is listed as %q, not a manifest", object, d.MediaType)
	}
	if d.Size > maxManifest {
		return malformed("%s is listed at %d bytes; a manifest is at most %d", object, d.Size, maxManifest)
	}
	desc, err := c.srcPull.Get(ctx, c.srcRepo.Digest(d.Digest.String()))
	if err != nil {
		return c.fail(object, err)
	}
	m, err := parseManifest(desc)
	if err != nil {
		return fmt.Errorf("%s: %w", object, err)
	}
	if m.Subject == nil || m.Subject.Digest != subject {
		return malformed("%s does not name %s as its subject", object, subject)
	}
	// Present but not listed (a run cut off between the manifest and the
	// fallback tag): putting it again lists it.
	_, listed := dst[d.Digest]
	status, err := c.copyTree(ctx, desc, m, object, true, !listed)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.attached[d.Digest] = m
	c.mu.Unlock()
	c.record(Object{Kind: KindReferrer, Ref: d.Digest.String(), Subject: subject.String(), ArtifactType: artifactType(m), Status: status})
	return nil
}

// artifactType is what a referrers listing says about m.
func artifactType(m *manifestFields) string {
	if m.ArtifactType != "" || m.Config == nil {
		return m.ArtifactType
	}
	return string(m.Config.MediaType)
}
