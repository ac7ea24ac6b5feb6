// Package faultreg wraps a registry handler and injects one fault at a
// chosen request, so tests can check how clients survive a misbehaving
// registry. It is for loopback test servers only.
package faultreg

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Kind is a fault.
type Kind int

// The faults, one per run.
const (
	Status500 Kind = iota
	Status502
	Status503
	TooManyRequests // 429 with Retry-After
	Reset           // connection closed mid-response (or before it)
	Stall           // no answer for longer than the client waits
	Corrupt         // a blob body with one byte flipped
	numKinds
)

// Kinds lists every fault kind.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

func (k Kind) String() string {
	return [...]string{"500", "502", "503", "429", "reset", "stall", "corrupt"}[k]
}

// Fault is armed for the At-th request (0-based) counted from Arm.
type Fault struct {
	At   int
	Kind Kind
}

// Handler serves next, injecting the armed fault.
type Handler struct {
	next  http.Handler
	stall time.Duration

	mu    sync.Mutex
	n     int
	fault *Fault
	fired string
}

// New wraps next. A Stall fault holds the request for stall (or until the
// client goes away) and then drops it.
func New(next http.Handler, stall time.Duration) *Handler {
	return &Handler{next: next, stall: stall}
}

// Arm sets the fault and restarts the request count.
func (h *Handler) Arm(f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n, h.fault, h.fired = 0, &f, ""
}

// Disarm clears the fault and returns a description of the request it hit
// ("" if none) and the number of requests seen since Arm.
func (h *Handler) Disarm() (fired string, requests int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fired, requests = h.fired, h.n
	h.fault, h.n, h.fired = nil, 0, ""
	return fired, requests
}

// Class names a request: method plus what it addresses.
func Class(r *http.Request) string {
	p := r.URL.Path
	kind := "other"
	switch {
	case p == "/v2/" || p == "/v2":
		kind = "ping"
	case strings.Contains(p, "/blobs/uploads"):
		kind = "upload"
	case strings.Contains(p, "/blobs/"):
		kind = "blob"
	case strings.Contains(p, "/manifests/"):
		kind = "manifest"
	case strings.Contains(p, "/referrers/"):
		kind = "referrers"
	case strings.HasSuffix(p, "/tags/list"):
		kind = "tags"
	}
	return r.Method + " " + kind
}

func (h *Handler) take(r *http.Request) (Kind, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := h.n
	h.n++
	if h.fault == nil || h.fault.At != i {
		return 0, false
	}
	k := h.fault.Kind
	// A corrupt body only means something for a blob download.
	if k == Corrupt && Class(r) != "GET blob" {
		k = Status500
	}
	h.fired = fmt.Sprintf("%s at request %d (%s %s)", k, i, r.Method, r.URL.Path)
	return k, true
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k, ok := h.take(r)
	if !ok {
		h.next.ServeHTTP(w, r)
		return
	}
	switch k {
	case Status500, Status502, Status503:
		w.WriteHeader(map[Kind]int{Status500: 500, Status502: 502, Status503: 503}[k])
	case TooManyRequests:
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	case Stall:
		select {
		case <-time.After(h.stall):
		case <-r.Context().Done():
		}
		hijackClose(w)
	case Reset:
		rec := httptest.NewRecorder()
		h.next.ServeHTTP(rec, r)
		conn, buf := hijack(w)
		if conn == nil {
			return
		}
		body := rec.Body.Bytes()
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
		_ = rec.Result().Header.Write(buf)
		fmt.Fprintf(buf, "Content-Length: %d\r\n\r\n", len(body))
		_, _ = buf.Write(body[:len(body)/2])
		_ = buf.Flush()
		_ = conn.Close()
	case Corrupt:
		rec := httptest.NewRecorder()
		h.next.ServeHTTP(rec, r)
		body := bytes.Clone(rec.Body.Bytes())
		if len(body) > 0 {
			body[len(body)/2] ^= 0xff
		}
		for key, v := range rec.Result().Header {
			w.Header()[key] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}
}

func hijack(w http.ResponseWriter) (interface{ Close() error }, *bufio.ReadWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(http.StatusInternalServerError)
		return nil, nil
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return nil, nil
	}
	return conn, buf
}

func hijackClose(w http.ResponseWriter) {
	if conn, _ := hijack(w); conn != nil {
		_ = conn.Close()
	}
}
