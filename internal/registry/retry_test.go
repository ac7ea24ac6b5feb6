package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/harden-dev/harden/internal/errs"
)

// script answers successive round trips from a list.
type script struct {
	steps  []func(*http.Request) (*http.Response, error)
	bodies []string
	calls  int
}

func (s *script) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		s.bodies = append(s.bodies, string(b))
	}
	f := s.steps[min(s.calls, len(s.steps)-1)]
	s.calls++
	return f(r)
}

func status(code int, hdr ...string) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		for i := 0; i+1 < len(hdr); i += 2 {
			h.Set(hdr[i], hdr[i+1])
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
	}
}

func fail(err error) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

// cutBody answers 200 whose body breaks off.
func cutBody(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r,
		Body: io.NopCloser(io.MultiReader(strings.NewReader(`{"sch`), errReader{io.ErrUnexpectedEOF}))}, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func newTestRetry(s *script) (*retryTransport, *[]time.Duration) {
	var waits []time.Duration
	rt := newRetryTransport(s, remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 4}).(*retryTransport)
	rt.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return rt, &waits
}

func TestRetryTransport(t *testing.T) {
	reset := errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer")
	cases := []struct {
		name      string
		method    string
		path      string
		body      string
		steps     []func(*http.Request) (*http.Response, error)
		wantCalls int
		wantCode  int
		wantErr   bool
		wantWaits []time.Duration
	}{
		{name: "429 honours Retry-After", method: "GET", path: "/v2/r/manifests/x",
			steps:     []func(*http.Request) (*http.Response, error){status(429, "Retry-After", "2"), status(200)},
			wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{2 * time.Second}},
		{name: "503 backs off exponentially", method: "HEAD", path: "/v2/r/blobs/sha256:a",
			steps:     []func(*http.Request) (*http.Response, error){status(503), status(503), status(200)},
			wantCalls: 3, wantCode: 200, wantWaits: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{name: "reset on GET retried", method: "GET", path: "/v2/",
			steps:     []func(*http.Request) (*http.Response, error){fail(reset), status(200)},
			wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{10 * time.Millisecond}},
		{name: "manifest body cut mid-way retried", method: "GET", path: "/v2/r/manifests/sha256:a",
			steps:     []func(*http.Request) (*http.Response, error){cutBody, status(200)},
			wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{10 * time.Millisecond}},
		{name: "manifest PUT replays its body", method: "PUT", path: "/v2/r/manifests/sha256:a", body: "manifest",
			steps:     []func(*http.Request) (*http.Response, error){status(502), status(201)},
			wantCalls: 2, wantCode: 201, wantWaits: []time.Duration{10 * time.Millisecond}},
		{name: "upload PATCH not retried", method: "PATCH", path: "/v2/r/blobs/uploads/u", body: "data",
			steps:     []func(*http.Request) (*http.Response, error){fail(reset)},
			wantCalls: 1, wantErr: true},
		{name: "certificate error not retried", method: "GET", path: "/v2/",
			steps:     []func(*http.Request) (*http.Response, error){fail(errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"))},
			wantCalls: 1, wantErr: true},
		{name: "404 not retried", method: "GET", path: "/v2/r/manifests/x",
			steps:     []func(*http.Request) (*http.Response, error){status(404)},
			wantCalls: 1, wantCode: 404},
		{name: "gives up after Steps", method: "GET", path: "/v2/",
			steps:     []func(*http.Request) (*http.Response, error){fail(reset)},
			wantCalls: 4, wantErr: true, wantWaits: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}},
		{name: "500 retried", method: "GET", path: "/v2/r/tags/list",
			steps:     []func(*http.Request) (*http.Response, error){status(500), status(200)},
			wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{10 * time.Millisecond}},
		{name: "503 to the end is a final error", method: "HEAD", path: "/v2/r/manifests/x",
			steps:     []func(*http.Request) (*http.Response, error){status(503)},
			wantCalls: 4, wantErr: true, wantWaits: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}},
		{name: "404 body cut mid-way retried", method: "GET", path: "/v2/r/manifests/x",
			steps: []func(*http.Request) (*http.Response, error){func(r *http.Request) (*http.Response, error) {
				resp, _ := cutBody(r)
				resp.StatusCode = 404
				return resp, nil
			}, status(404)},
			wantCalls: 2, wantCode: 404, wantWaits: []time.Duration{10 * time.Millisecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &script{steps: c.steps}
			rt, waits := newTestRetry(s)
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, _ := http.NewRequest(c.method, "http://127.0.0.1:5000"+c.path, body)
			resp, err := rt.RoundTrip(req)
			if s.calls != c.wantCalls || (err != nil) != c.wantErr {
				t.Fatalf("calls %d (want %d), err %v", s.calls, c.wantCalls, err)
			}
			if err == nil && resp.StatusCode != c.wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, c.wantCode)
			}
			if len(*waits) != len(c.wantWaits) {
				t.Fatalf("waits %v, want %v", *waits, c.wantWaits)
			}
			for i := range c.wantWaits {
				if (*waits)[i] != c.wantWaits[i] {
					t.Errorf("waits %v, want %v", *waits, c.wantWaits)
				}
			}
			for _, b := range s.bodies {
				if b != c.body {
					t.Errorf("attempt sent body %q, want %q", b, c.body)
				}
			}
		})
	}
}

// TestRetryableFoldsLayers: what the transport gave up on is final for
// go-containerregistry's operation retries; upload failures restart.
func TestRetryableFoldsLayers(t *testing.T) {
	s := &script{steps: []func(*http.Request) (*http.Response, error){status(503)}}
	rt, _ := newTestRetry(s)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:5000/v2/r/manifests/x", nil)
	_, exhausted := (&http.Client{Transport: rt}).Do(req)
	if exhausted == nil || !strings.Contains(exhausted.Error(), "gave up after 4 attempts: registry answered 503") {
		t.Fatalf("exhausted: %v", exhausted)
	}
	if errs.ExitCode(exhausted) != errs.CodeUnreachable {
		t.Errorf("exit code %d, want 3", errs.ExitCode(exhausted))
	}
	headerTimeout := &url.Error{Op: "Post", URL: "http://r/v2/x/blobs/uploads/", Err: timeoutErr{}}
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"exhausted by the transport": {exhausted, false},
		"upload reset":               {&url.Error{Op: "Patch", URL: "http://r/", Err: syscall.ECONNRESET}, true},
		"upload header timeout":      {headerTimeout, true},
		"upload 503":                 {&transport.Error{StatusCode: 503}, true},
		"upload 400":                 {&transport.Error{StatusCode: 400}, false},
		"canceled":                   {context.Canceled, false},
		"cut body":                   {io.ErrUnexpectedEOF, true},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("%s: retryable = %v, want %v", name, got, c.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "net/http: timeout awaiting response headers" }
func (timeoutErr) Timeout() bool { return true }
func (timeoutErr) Unwrap() error { return context.DeadlineExceeded }

func TestRetryStopsOnCancel(t *testing.T) {
	s := &script{steps: []func(*http.Request) (*http.Response, error){fail(context.Canceled)}}
	rt, _ := newTestRetry(s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:5000/v2/", nil)
	if _, err := rt.RoundTrip(req); err == nil || s.calls != 1 {
		t.Errorf("cancelled request retried: calls %d, err %v", s.calls, err)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	if retryAfter("3") != 3*time.Second || retryAfter("") != 0 || retryAfter("soon") != 0 || retryAfter("-1") != 0 {
		t.Error("Retry-After seconds")
	}
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if d := retryAfter(future); d < 80*time.Second || d > 91*time.Second {
		t.Errorf("Retry-After date gave %v", d)
	}
}

// TestLargeBlobResumes: a large blob cut mid-body is resumed with a Range
// request from the byte it broke at; a small one is re-fetched whole when
// it does not match its digest.
func TestLargeBlobResumes(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", (maxBuffered/16)+1024)
	sum := sha256.Sum256([]byte(big))
	path := "/v2/r/blobs/sha256:" + hex.EncodeToString(sum[:])
	const cut = 1 << 20
	var ranges []string
	s := &script{steps: []func(*http.Request) (*http.Response, error){
		func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, ContentLength: int64(len(big)), Header: http.Header{}, Request: r,
				Body: io.NopCloser(io.MultiReader(strings.NewReader(big[:cut]), errReader{io.ErrUnexpectedEOF}))}, nil
		},
		func(r *http.Request) (*http.Response, error) {
			ranges = append(ranges, r.Header.Get("Range"))
			h := http.Header{}
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", cut, len(big)-1, len(big)))
			return &http.Response{StatusCode: 206, Header: h, Request: r, Body: io.NopCloser(strings.NewReader(big[cut:]))}, nil
		},
	}}
	rt, _ := newTestRetry(s)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:5000"+path, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != big {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(big), err)
	}
	if len(ranges) != 1 || ranges[0] != fmt.Sprintf("bytes=%d-", cut) {
		t.Errorf("range requests %v", ranges)
	}

	small := "small blob"
	ss := sha256.Sum256([]byte(small))
	corrupt := &script{steps: []func(*http.Request) (*http.Response, error){
		func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, ContentLength: int64(len(small)), Request: r, Body: io.NopCloser(strings.NewReader("smell blob"))}, nil
		},
		func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, ContentLength: int64(len(small)), Request: r, Body: io.NopCloser(strings.NewReader(small))}, nil
		},
	}}
	rt, _ = newTestRetry(corrupt)
	req, _ = http.NewRequest("GET", "http://127.0.0.1:5000/v2/r/blobs/sha256:"+hex.EncodeToString(ss[:]), nil)
	resp, err = rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != small || corrupt.calls != 2 {
		t.Errorf("got %q after %d calls", b, corrupt.calls)
	}
}

// TestAlteredContentIsIntegrity: a blob or a manifest named by digest
// whose bytes do not match is fetched once more; a second mismatch is an
// integrity failure (exit 1), not a transient outage to retry (exit 3).
func TestAlteredContentIsIntegrity(t *testing.T) {
	good := `{"schemaVersion":2}`
	sum := sha256.Sum256([]byte(good))
	hexd := hex.EncodeToString(sum[:])
	for _, kind := range []string{"blobs", "manifests"} {
		t.Run(kind, func(t *testing.T) {
			bad := &script{steps: []func(*http.Request) (*http.Response, error){
				func(r *http.Request) (*http.Response, error) {
					return &http.Response{StatusCode: 200, ContentLength: int64(len(good)), Header: http.Header{}, Request: r,
						Body: io.NopCloser(strings.NewReader(strings.ToUpper(good)))}, nil
				},
			}}
			rt, waits := newTestRetry(bad)
			req, _ := http.NewRequest("GET", "http://127.0.0.1:5000/v2/r/"+kind+"/sha256:"+hexd, nil)
			_, err := rt.RoundTrip(req)
			if !IsIntegrity(err) || errs.ExitCode(err) != errs.CodeCheckFailed {
				t.Fatalf("err %v (exit %d), want an integrity failure (exit 1)", err, errs.ExitCode(err))
			}
			if want := kind[:len(kind)-1] + " sha256:" + hexd + ": content does not match its digest"; err.Error() != want {
				t.Errorf("err %q, want %q", err, want)
			}
			if bad.calls != 2 || len(*waits) != 0 {
				t.Errorf("%d requests and %d waits; want one re-fetch, at once", bad.calls, len(*waits))
			}
			if errs.ExitCode(Classify(fmt.Errorf("fetch: %w", err))) != errs.CodeCheckFailed {
				t.Error("Classify turned an integrity failure into another exit code")
			}
		})
	}
	// A manifest by tag has no digest to check.
	tagged := &script{steps: []func(*http.Request) (*http.Response, error){
		func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r, Body: io.NopCloser(strings.NewReader(good))}, nil
		},
	}}
	rt, _ := newTestRetry(tagged)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:5000/v2/r/manifests/latest", nil)
	if _, err := rt.RoundTrip(req); err != nil || tagged.calls != 1 {
		t.Errorf("a tag: %v after %d calls", err, tagged.calls)
	}
}

func TestStripMaps(t *testing.T) {
	for in, want := range map[string]string{
		"MANIFEST_UNKNOWN: manifest unknown; map[Tag:latest]": "MANIFEST_UNKNOWN: manifest unknown",
		"a; map[Name:x Detail:map[y:z]] b; map[k:v]":          "a b",
		"no maps here":        "no maps here",
		"cut off; map[Name:x": "cut off",
	} {
		if got := stripMaps(in); got != want {
			t.Errorf("stripMaps(%q) = %q, want %q", in, got, want)
		}
	}
}

// A document over the limit is refused at once: retrying cannot shrink it.
func TestOversizedDocumentNotRetried(t *testing.T) {
	huge := strings.Repeat("x", maxBuffered+1)
	s := &script{steps: []func(*http.Request) (*http.Response, error){
		func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r, Body: io.NopCloser(strings.NewReader(huge))}, nil
		},
	}}
	rt, _ := newTestRetry(s)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:5000/v2/r/referrers/sha256:"+strings.Repeat("a", 64), nil)
	_, err := rt.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "larger than") || s.calls != 1 || errs.ExitCode(Classify(err)) == errs.CodeUnreachable {
		t.Fatalf("err %v after %d calls (exit %d)", err, s.calls, errs.ExitCode(Classify(err)))
	}
}
