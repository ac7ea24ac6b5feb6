package registry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/errs"
)

// TestNotFoundSaysWhatIsMissing: a registry's 404 reads "image R not
// found in the registry (CODE)", with no raw request line, no response
// detail map and no "HEAD responses have no body" note. The bodies are
// those distribution 2.8 (Debian's docker-registry) sends.
func TestNotFoundSaysWhatIsMissing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
			return
		case strings.HasPrefix(r.URL.Path, "/v2/gone/"):
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"gone"}}]}`))
		case r.URL.Path == "/v2/app/manifests/latest":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"latest"}}]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
		}
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	digest := "sha256:" + strings.Repeat("a", 64)
	c := New()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"missing tag", func() error { _, err := c.Resolve(ctx, host+"/app:latest"); return err },
			"resolve " + host + "/app:latest: image not found in the registry (MANIFEST_UNKNOWN)"},
		{"missing repository", func() error { _, err := c.Resolve(ctx, host+"/gone:1.0"); return err },
			"resolve " + host + "/gone:1.0: repository " + host + "/gone not found in the registry (NAME_UNKNOWN)"},
		{"missing digest", func() error {
			d, err := name.NewDigest(host + "/app@" + digest)
			if err != nil {
				return err
			}
			_, err = c.Index(ctx, d)
			return err
		},
			"pull " + host + "/app@" + digest + ": image not found in the registry (MANIFEST_UNKNOWN)"},
		{"missing tag, HEAD", func() error {
			tag, err := name.NewTag(host + "/other:v2")
			if err != nil {
				return err
			}
			_, err = c.Digest(ctx, tag)
			return err
		},
			"resolve " + host + "/other:v2: image not found in the registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || err.Error() != tc.want || errs.ExitCode(err) != errs.CodeInput {
				t.Errorf("got %v (exit %d)\nwant %s (exit 2)", err, errs.ExitCode(err), tc.want)
			}
			if !IsNotFound(err) {
				t.Errorf("the chain lost the registry's error: %v", err)
			}
		})
	}
}
