// Package registrytest starts go-containerregistry's in-process registry
// on loopback for tests, quietly, optionally behind a wrapping handler.
package registrytest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Start serves a fresh registry until the test ends and returns its
// host:port. wrap, if set, sits in front of it (auth, fault injection).
func Start(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	return start(t, wrap, false)
}

// StartReferrers is Start with the OCI 1.1 referrers API enabled.
func StartReferrers(t testing.TB) string {
	t.Helper()
	return start(t, nil, true)
}

// StartReferrersBehind is StartReferrers with wrap in front of it.
func StartReferrersBehind(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	return start(t, wrap, true)
}

func start(t testing.TB, wrap func(http.Handler) http.Handler, referrers bool) string {
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrers))
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}
