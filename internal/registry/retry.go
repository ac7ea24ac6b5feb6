package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// retryTransport repeats requests that are safe to repeat (GET, HEAD, and
// manifest PUTs, which name their content) when the connection fails, the
// registry stalls, or it answers 429/502/503/504. It waits with
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
		if err == nil && req.Method == http.MethodGet && document(req) && resp.StatusCode == http.StatusOK {
			err = bufferBody(resp)
		}
		wait, retry := t.verdict(req.Context(), resp, err, delay)
		if !retry || attempt >= steps {
			if err != nil && retry {
				err = fmt.Errorf("%s %s: gave up after %d attempts: %w", req.Method, req.URL.Redacted(), attempt, err)
			}
			return resp, err
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
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
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

func bufferBody(resp *http.Response) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBuffered+1))
	if err != nil {
		return err
	}
	if len(b) > maxBuffered {
		return fmt.Errorf("registry document larger than %d bytes", maxBuffered)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

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
