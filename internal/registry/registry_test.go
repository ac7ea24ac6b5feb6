package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry/registrytest"
)

func testIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

func TestPushIndexAndResolve(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, nil)
	c := New()
	idx := testIndex(t)
	repo, _ := name.NewRepository(reg + "/org/pgcli")
	ref, err := c.PushIndex(ctx, repo, idx, "4.3.0-r1")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	if ref.DigestStr() != d.String() {
		t.Fatalf("pushed %s, index is %s", ref, d)
	}
	res, err := c.Resolve(ctx, reg+"/org/pgcli:4.3.0-r1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != d.String() || res.Pinned != ref.String() || len(res.Platforms) != 2 || res.Platforms[1].Platform != "linux/arm64" {
		t.Errorf("resolve: %+v", res)
	}
	if _, err := c.Index(ctx, ref); err != nil {
		t.Errorf("pull by digest: %v", err)
	}
}

// A manifest whose bytes do not hash to the digest must not be tagged:
// the tag is applied only after a read-back by digest succeeds.
func TestPushTagsOnlyAfterReadBack(t *testing.T) {
	ctx := context.Background()
	var failHead atomic.Bool
	failHead.Store(true)
	reg := registrytest.Start(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failHead.Load() && r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/sha256:") {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c := New()
	repo, _ := name.NewRepository(reg + "/org/x")
	_, err := c.PushIndex(ctx, repo, testIndex(t), "latest")
	if err == nil {
		t.Fatal("push succeeded although the read-back failed")
	}
	failHead.Store(false)
	tags, _ := remote.List(repo)
	if len(tags) != 0 {
		t.Errorf("tags %v applied despite failed read-back", tags)
	}
}

func TestErrorsClassified(t *testing.T) {
	ctx := context.Background()
	c := New(WithBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 3}))
	if _, err := c.Resolve(ctx, "not a ref!"); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("bad ref: %v (exit %d)", err, errs.ExitCode(err))
	}
	if _, err := c.Resolve(ctx, "127.0.0.1:1/x:y"); errs.ExitCode(err) != errs.CodeUnreachable {
		t.Errorf("closed port: %v (exit %d)", err, errs.ExitCode(err))
	}
	reg := registrytest.Start(t, nil)
	if _, err := c.Resolve(ctx, reg+"/nope:missing"); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("missing tag: %v (exit %d)", err, errs.ExitCode(err))
	}
}

// Credentials come from the docker config, as crane and docker read them.
func TestPushUsesDockerConfigCredentials(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	repo, _ := name.NewRepository(reg + "/org/private")

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err := New().PushIndex(ctx, repo, testIndex(t))
	if err == nil || !strings.Contains(err.Error(), "check credentials") {
		t.Fatalf("push without credentials: %v", err)
	}

	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:s3cret"))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	if _, err := New().PushIndex(ctx, repo, testIndex(t)); err != nil {
		t.Fatalf("push with docker config credentials: %v", err)
	}
}
