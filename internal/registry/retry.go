package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/errs"
)

// retryTransport repeats requests that are safe to repeat (GET, HEAD, and
// manifest PUTs, which name their content) when the connection fails, the
// registry stalls, or it answers 408/429/500/502/503/504. It waits with
// exponential backoff and jitter, or as long as Retry-After asks (capped).
// Small documents (manifests, tag lists, referrers) are read whole here,
// so that a connection cut mid-body is retried too. Blob uploads are left
// to the caller, which restarts them.
type retryTransport struct {
	next    http.RoundTripper
	backoff remote.Backoff
	maxWait time.Duration
	sleep   func(context.Context, time.Duration) error
}

// maxBuffered bounds the documents read whole; OCI limits manifests to 4 MiB.
const maxBuffered = 4 << 20

func newRetryTransport(next http.RoundTripper, b remote.Backoff) http.RoundTripper {
	return &retryTransport{next: next, backoff: b, maxWait: 30 * time.Second, sleep: sleep}
}

func repeatable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPut:
		return strings.Contains(r.URL.Path, "/manifests/") && (r.Body == nil || r.GetBody != nil)
	}
	return false
}

// document reports whether the response body is small enough to buffer.
func document(r *http.Request) bool {
	p := r.URL.Path
	return strings.Contains(p, "/manifests/") || strings.HasSuffix(p, "/tags/list") || strings.Contains(p, "/referrers/")
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !repeatable(req) {
		return t.next.RoundTrip(req)
	}
	steps := max(t.backoff.Steps, 1)
	delay := t.backoff.Duration
	mismatches := 0
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := t.next.RoundTrip(r)
		if err == nil && req.Method == http.MethodGet {
			err = t.prepareBody(req, resp)
		}
		// Bytes that do not match their digest are fetched once more (a
		// cache or proxy may have served a stale copy); a second mismatch
		// is tampering, not an outage, and is never retried again.
		var ie *IntegrityError
		if errors.As(err, &ie) {
			if mismatches++; mismatches > 1 {
				return nil, errs.Check(err)
			}
			continue
		}
		var big *tooLargeError
		if errors.As(err, &big) {
			return nil, err // the same document will not shrink
		}
		wait, retry := t.verdict(req.Context(), resp, err, delay)
		if !retry {
			return resp, err
		}
		if attempt >= steps {
			// Final: the layers above (go-containerregistry's retries)
			// must not repeat what was already repeated here.
			if err == nil {
				err = fmt.Errorf("registry answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
			}
			return nil, errs.Unreachable(&exhaustedError{fmt.Errorf("gave up after %d attempts: %w", attempt, err)})
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		delay = time.Duration(float64(delay) * t.backoff.Factor)
	}
}

// exhaustedError is a request this transport retried as often as it may.
type exhaustedError struct{ err error }

func (e *exhaustedError) Error() string { return e.err.Error() }
func (e *exhaustedError) Unwrap() error { return e.err }

// retryable is go-containerregistry's retry predicate, which decides
// whether to restart an operation (a blob upload: check, upload, commit;
// the check skips what already arrived). A request this transport has
// already retried is final, so the two layers never multiply. Response
// header timeouts count: since Go 1.23 they wrap DeadlineExceeded, which
// go-containerregistry's own predicate refuses.
func retryable(err error) bool {
	var ex *exhaustedError
	if err == nil || errors.As(err, &ex) || errors.Is(err, context.Canceled) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return true
	}
	var te interface{ Temporary() bool }
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// verdict decides whether to try again and how long to wait first.
func (t *retryTransport) verdict(ctx context.Context, resp *http.Response, err error, delay time.Duration) (time.Duration, bool) {
	jittered := delay
	if t.backoff.Jitter > 0 {
		jittered += time.Duration(rand.Float64() * t.backoff.Jitter * float64(delay))
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, false // the caller gave up; do not retry its cancellation
		}
		// Any transport failure of a repeatable request is worth another
		// try, except a certificate problem, which waiting will not fix.
		if msg := err.Error(); strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") {
			return 0, false
		}
		return jittered, true
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if ra := retryAfter(resp.Header.Get("Retry-After")); ra > jittered {
			return min(ra, t.maxWait), true
		}
		return jittered, true
	}
	return 0, false
}

// retryAfter parses seconds or an HTTP date; 0 when absent or invalid.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// prepareBody makes a GET's body safe to hand on. Documents (any status:
// a 404 cut mid-body is retried, not misread) and blobs up to maxBuffered
// are read whole here, blobs checked against the digest their URL names,
// so that a cut or corrupted body is retried as a failed request. Larger
// blobs resume from where they broke off (resumingBody).
func (t *retryTransport) prepareBody(req *http.Request, resp *http.Response) error {
	want := blobDigest(req)
	switch {
	case document(req):
		b, err := bufferBody(resp)
		if err != nil {
			return err
		}
		if d := manifestDigest(req); d != "" && resp.StatusCode == http.StatusOK && req.Method == http.MethodGet {
			if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != d {
				return &IntegrityError{Object: "manifest sha256:" + d}
			}
		}
		return nil
	case want == "" || resp.StatusCode != http.StatusOK:
		return nil
	case resp.ContentLength >= 0 && resp.ContentLength <= maxBuffered:
		b, err := bufferBody(resp)
		if err != nil {
			return err
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != want {
			return &IntegrityError{Object: "blob sha256:" + want}
		}
		return nil
	case resp.ContentLength > 0:
		resp.Body = &resumingBody{t: t, req: req, body: resp.Body, size: resp.ContentLength}
	}
	return nil
}

// tooLargeError is a document over the limit read whole.
type tooLargeError struct{ limit int }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("registry document larger than %d bytes", e.limit)
}

// IntegrityError is content whose bytes do not match the digest that
// names it: a registry (or something between it and us) serving altered
// data. It is a failed check (exit 1), never an outage.
type IntegrityError struct{ Object string }

func (e *IntegrityError) Error() string {
	return e.Object + ": content does not match its digest"
}

// IsIntegrity reports whether err is content that does not match its
// digest, as found by this client or by go-containerregistry's own
// checks (manifests by digest, streamed blobs).
func IsIntegrity(err error) bool {
	var ie *IntegrityError
	if errors.As(err, &ie) {
		return true
	}
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "error verifying sha256 checksum") ||
		(strings.Contains(m, "manifest digest: ") && strings.Contains(m, "does not match requested digest"))
}

// manifestDigest is the sha256 hex a manifest URL names, or "" for a tag.
func manifestDigest(r *http.Request) string {
	_, h, ok := strings.Cut(r.URL.Path, "/manifests/sha256:")
	if !ok || len(h) != 64 {
		return ""
	}
	return h
}

// blobDigest is the sha256 hex a blob URL names, or "".
func blobDigest(r *http.Request) string {
	_, h, ok := strings.Cut(r.URL.Path, "/blobs/sha256:")
	if !ok || len(h) != 64 {
		return ""
	}
	return h
}

func bufferBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBuffered+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBuffered {
		return nil, &tooLargeError{limit: maxBuffered}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// resumingBody streams a large blob and, when the connection breaks,
// asks for the rest with a Range request (or skips what it has when the
// registry ignores Range). The caller still checks the digest.
type resumingBody struct {
	t         *retryTransport
	req       *http.Request
	body      io.ReadCloser
	off, size int64
	tries     int
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.off += int64(n)
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && b.off >= b.size:
			return n, io.EOF
		case n > 0:
			return n, nil // the body fails again on the next Read, which resumes
		}
		if b.tries >= max(b.t.backoff.Steps, 1)-1 || b.req.Context().Err() != nil {
			return 0, err
		}
		b.tries++
		b.body.Close()
		if rerr := b.reopen(); rerr != nil {
			return 0, fmt.Errorf("%w (resuming at byte %d: %v)", err, b.off, rerr)
		}
	}
}

func (b *resumingBody) reopen() error {
	d := b.t.backoff.Duration
	for i := 1; i < b.tries; i++ {
		d = time.Duration(float64(d) * b.t.backoff.Factor)
	}
	if err := b.t.sleep(b.req.Context(), d); err != nil {
		return err
	}
	r := b.req.Clone(b.req.Context())
	r.Header.Set("Range", fmt.Sprintf("bytes=%d-", b.off))
	resp, err := b.t.next.RoundTrip(r)
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", b.off)):
	case resp.StatusCode == http.StatusOK:
		if _, err := io.CopyN(io.Discard, resp.Body, b.off); err != nil {
			resp.Body.Close()
			return err
		}
	default:
		resp.Body.Close()
		return fmt.Errorf("registry answered %s to a Range request", resp.Status)
	}
	b.body = resp.Body
	return nil
}

func (b *resumingBody) Close() error { return b.body.Close() }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
