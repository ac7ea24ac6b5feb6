// Package registry is harden's face onto OCI registries: resolving tags to
// digests, pulling by digest and pushing whole indexes by digest. It is a
// thin layer over go-containerregistry's remote package.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/harden-dev/harden/internal/errs"
)

// Client talks to registries with one set of options (auth, transport,
// retries) so that connections are reused across calls.
type Client struct {
	opts      []remote.Option
	keychain  authn.Keychain
	transport http.RoundTripper
}

// Option configures a Client.
type Option func(*config)

type config struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	userAgent string
	jobs      int
	backoff   remote.Backoff
}

// WithKeychain overrides the default docker-config keychain.
func WithKeychain(k authn.Keychain) Option { return func(c *config) { c.keychain = k } }

// WithTransport sets the HTTP transport (tests inject faults here).
func WithTransport(t http.RoundTripper) Option { return func(c *config) { c.transport = t } }

// WithBackoff sets the retry schedule for idempotent requests.
func WithBackoff(b remote.Backoff) Option { return func(c *config) { c.backoff = b } }

// WithUserAgent sets the User-Agent prefix.
func WithUserAgent(ua string) Option { return func(c *config) { c.userAgent = ua } }

// DefaultTransport is go-containerregistry's transport with a bound on
// how long a registry may take to start answering, so that a stalled
// registry fails the request (and lets it be retried) instead of hanging.
func DefaultTransport(responseTimeout time.Duration) http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = responseTimeout
	return t
}

// New returns a client. Credentials come from the docker config and its
// credential helpers, as crane and docker use them.
func New(opts ...Option) *Client {
	cfg := config{keychain: authn.DefaultKeychain, transport: DefaultTransport(2 * time.Minute), userAgent: "harden", jobs: 4,
		backoff: remote.Backoff{Duration: 250 * time.Millisecond, Factor: 2.0, Jitter: 0.2, Steps: 5}}
	for _, o := range opts {
		o(&cfg)
	}
	rt := newRetryTransport(cfg.transport, cfg.backoff)
	ropts := []remote.Option{
		remote.WithAuthFromKeychain(cfg.keychain),
		remote.WithTransport(rt),
		remote.WithUserAgent(cfg.userAgent),
		remote.WithJobs(cfg.jobs),
		// One layer of request retries (rt); go-containerregistry only
		// restarts whole blob uploads, by retryable's rules.
		remote.WithRetryBackoff(cfg.backoff),
		remote.WithRetryPredicate(retryable),
		remote.WithRetryStatusCodes(),
	}
	// Reads reuse one authenticated transport per repository instead of
	// resolving credentials, pinging the registry and fetching a token
	// for every call. (Not a shared go-containerregistry Pusher: it
	// remembers each blob it has written or failed to write for the rest
	// of the process, so a push would never be retried nor redone.)
	// NewPuller does not fail with these options.
	if puller, err := remote.NewPuller(ropts...); err == nil {
		ropts = append(ropts, remote.Reuse(puller))
	}
	return &Client{keychain: cfg.keychain, transport: rt, opts: ropts}
}

func (c *Client) with(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, c.opts...)
}

// Remote returns the client's go-containerregistry options bound to ctx,
// for packages that speak to the registry directly (attach).
func (c *Client) Remote(ctx context.Context) []remote.Option { return c.with(ctx) }

// RoundTripper is an authenticated transport for raw requests to repo
// (pull scope), for the few endpoints go-containerregistry does not wrap.
func (c *Client) RoundTripper(ctx context.Context, repo name.Repository) (http.RoundTripper, error) {
	auth, err := c.keychain.Resolve(repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, c.transport, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, classify(fmt.Errorf("authenticate to %s: %w", repo.RegistryStr(), err))
	}
	return rt, nil
}

// Classify marks err as unreachable (exit 3), a missing object (exit 2)
// or an auth problem with a hint, as the client's own calls do.
func Classify(err error) error { return classify(err) }

// PlatformDigest is one entry of a resolved index.
type PlatformDigest struct {
	Platform  string `json:"platform"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
}

// Resolved is what a reference points to right now.
type Resolved struct {
	Reference string           `json:"reference"`
	Digest    string           `json:"digest"`
	MediaType string           `json:"mediaType"`
	Pinned    string           `json:"pinned"` // repo@digest
	Platforms []PlatformDigest `json:"platforms,omitempty"`
}

// Resolve looks up ref (tag or digest) and, for an index, every platform
// manifest in it.
func (c *Client) Resolve(ctx context.Context, ref string) (*Resolved, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("parse image reference %q: %w; use the form registry/repo:tag or registry/repo@sha256:<digest>", ref, err))
	}
	desc, err := remote.Get(r, c.with(ctx)...)
	if err != nil {
		return nil, classify(fmt.Errorf("resolve %s: %w", r, err))
	}
	out := &Resolved{
		Reference: r.String(),
		Digest:    desc.Digest.String(),
		MediaType: string(desc.MediaType),
		Pinned:    r.Context().Digest(desc.Digest.String()).String(),
	}
	if !desc.MediaType.IsIndex() {
		return out, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", out.Pinned, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index manifest %s: %w", out.Pinned, err)
	}
	for _, m := range im.Manifests {
		p := "unknown"
		if m.Platform != nil {
			p = m.Platform.String()
		}
		out.Platforms = append(out.Platforms, PlatformDigest{Platform: p, Digest: m.Digest.String(), MediaType: string(m.MediaType)})
	}
	return out, nil
}

// Index pulls an index by digest. A single-platform image is wrapped in
// an error: harden's builder needs to know each platform.
func (c *Client) Index(ctx context.Context, ref name.Digest) (v1.ImageIndex, error) {
	desc, err := remote.Get(ref, c.with(ctx)...)
	if err != nil {
		return nil, classify(fmt.Errorf("pull %s: %w", ref, err))
	}
	if desc.Digest.String() != ref.DigestStr() {
		return nil, fmt.Errorf("registry returned %s for %s; refusing a manifest whose digest does not match", desc.Digest, ref)
	}
	if !desc.MediaType.IsIndex() {
		return nil, errNotIndex
	}
	return desc.ImageIndex()
}

// Image pulls a single-platform image by digest.
func (c *Client) Image(ctx context.Context, ref name.Digest) (v1.Image, error) {
	img, err := remote.Image(ref, c.with(ctx)...)
	if err != nil {
		return nil, classify(fmt.Errorf("pull %s: %w", ref, err))
	}
	return img, nil
}

var errNotIndex = errors.New("not an index")

// IsNotIndex reports whether Index failed because ref is a single image.
func IsNotIndex(err error) bool { return errors.Is(err, errNotIndex) }

// IsNotFound reports whether the registry answered 404: no such
// repository, tag or manifest.
func IsNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

// PushIndex uploads every blob and manifest of idx to repo, addressed by
// digest, after validating every digest locally. It then reads the index
// back by digest and only then applies tags. Nothing is tagged unless the
// whole index is in the registry.
func (c *Client) PushIndex(ctx context.Context, repo name.Repository, idx v1.ImageIndex, tags ...string) (name.Digest, error) {
	d, err := idx.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("digest of index: %w", err)
	}
	if err := CheckContent(idx); err != nil {
		return name.Digest{}, fmt.Errorf("refusing to push %s: local content does not match its digests: %w", d, err)
	}
	ref := repo.Digest(d.String())
	if err := remote.WriteIndex(ref, idx, c.with(ctx)...); err != nil {
		return name.Digest{}, classify(fmt.Errorf("push %s: %w", ref, err))
	}
	desc, err := remote.Head(ref, c.with(ctx)...)
	if err != nil {
		return name.Digest{}, classify(fmt.Errorf("read back %s after push: %w", ref, err))
	}
	if desc.Digest != d {
		return name.Digest{}, fmt.Errorf("registry reports %s for %s after push", desc.Digest, ref)
	}
	for _, t := range tags {
		tag, err := name.NewTag(repo.String() + ":" + t)
		if err != nil {
			return ref, errs.Input(fmt.Errorf("tag %q: %w", t, err))
		}
		if err := remote.Tag(tag, idx, c.with(ctx)...); err != nil {
			return ref, classify(fmt.Errorf("tag %s (the index itself is pushed as %s): %w", tag, ref, err))
		}
	}
	return ref, nil
}

// classify marks failures to reach a registry so they exit 3, and
// permission problems with a hint.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if IsIntegrity(err) {
		return errs.Check(cleaned(err))
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w (check credentials: docker login / crane auth login, or the token's packages scope)", cleaned(err))
		case http.StatusNotFound:
			return errs.Input(notFound(err, terr))
		}
	}
	if errs.IsNetwork(err) {
		return errs.Unreachable(err)
	}
	return cleaned(err)
}

// cleanError keeps an error's chain but shows a message without the
// Go map formatting of registry error details ("; map[Tag:x]").
type cleanError struct {
	err error
	msg string
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }

// notFound says what a registry's 404 is about ("image R not found in
// the registry (MANIFEST_UNKNOWN)") in place of the raw request and
// error body go-containerregistry shows.
func notFound(err error, terr *transport.Error) error {
	if terr.Request == nil || terr.Request.URL == nil {
		return cleaned(err)
	}
	u := terr.Request.URL
	path := strings.TrimPrefix(u.Path, "/v2/")
	var code string
	if len(terr.Errors) > 0 {
		code = string(terr.Errors[0].Code)
	}
	var what, ref string
	switch {
	case code == string(transport.NameUnknownErrorCode), strings.HasSuffix(path, "/tags/list"):
		repo, _, _ := strings.Cut(path, "/manifests/")
		repo = strings.TrimSuffix(repo, "/tags/list")
		what, ref = "repository", u.Host+"/"+repo
	case strings.Contains(path, "/manifests/"):
		repo, r, _ := strings.Cut(path, "/manifests/")
		sep := ":"
		if strings.Contains(r, ":") {
			sep = "@"
		}
		what, ref = "image", u.Host+"/"+repo+sep+r
	case strings.Contains(path, "/blobs/"):
		repo, d, _ := strings.Cut(path, "/blobs/")
		what, ref = "blob", d+" of "+u.Host+"/"+repo
	default:
		return cleaned(err)
	}
	msg := err.Error()
	i := strings.Index(msg, terr.Error())
	if i < 0 {
		return cleaned(err)
	}
	desc := what + " " + ref + " not found in the registry"
	if what == "image" && strings.Contains(msg[:i], ref) {
		desc = what + " not found in the registry"
	}
	if code != "" {
		desc += " (" + code + ")"
	}
	return &cleanError{err: err, msg: stripMaps(msg[:i] + desc + msg[i+len(terr.Error()):])}
}

func cleaned(err error) error {
	m := err.Error()
	out := stripMaps(m)
	if out == m {
		return err
	}
	return &cleanError{err: err, msg: out}
}

// stripMaps removes every "; map[...]" (with nested brackets) from m.
func stripMaps(m string) string {
	for {
		i := strings.Index(m, "; map[")
		if i < 0 {
			return m
		}
		depth, j := 0, i+len("; map")
		for ; j < len(m); j++ {
			if m[j] == '[' {
				depth++
			} else if m[j] == ']' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if j >= len(m) {
			return m[:i]
		}
		m = m[:i] + m[j+1:]
	}
}

// Digest returns the digest a reference points to now (the index digest
// for a multi-platform tag), with one HEAD request.
func (c *Client) Digest(ctx context.Context, ref name.Reference) (string, error) {
	desc, err := remote.Head(ref, c.with(ctx)...)
	if err != nil {
		return "", classify(fmt.Errorf("resolve %s: %w", ref, err))
	}
	return desc.Digest.String(), nil
}

// CheckPush proves that the credentials may push to repo: it starts a
// blob upload and cancels it, as go-containerregistry's
// CheckPushPermission does, so nothing is left in the registry.
func (c *Client) CheckPush(ctx context.Context, repo name.Repository) error {
	rt := c.transport
	if err := remote.CheckPushPermission(repo.Tag("harden-preflight"), c.keychain, ctxTransport{ctx, rt}); err != nil {
		return classify(fmt.Errorf("no push access to %s: %w", repo, err))
	}
	return nil
}

// ctxTransport binds requests to ctx; CheckPushPermission takes no context.
type ctxTransport struct {
	ctx context.Context
	rt  http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.rt.RoundTrip(r.WithContext(t.ctx))
}
