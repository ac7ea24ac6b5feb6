// Package buildtest builds and publishes the fixture pgcli image for
// tests of the stages that come after publish (sbom, sign, verify).
package buildtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/build"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/publish"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sbom"
)

// Result is a built and published fixture image.
type Result struct {
	Fixture  *fixture.Fixture
	Registry string // host:port of the in-process registry
	Repo     name.Repository
	Ref      name.Digest // repo@index digest
	Out      string      // build output: oci/ and build.json
	Record   *buildrecord.Record
	Release  *dist.Release
	Index    v1.ImageIndex
	Lock     *lock.File
	Config   *config.Config
	Client   *registry.Client
}

// Options adjust the build.
type Options struct {
	// Registry is a host:port to publish to; "" starts an in-process one.
	Registry string
	// Repository path below the registry; "" = "org/pgcli".
	Repository string
}

// Build publishes the fixture base, builds the pgcli image from the
// fixture wheels and pushes it. It skips (or fails, when fixtures are
// required) exactly as fixture.Load does.
func Build(t testing.TB, o Options) *Result {
	t.Helper()
	fx := fixture.Load(t)
	ctx := context.Background()
	reg := o.Registry
	if reg == "" {
		reg = registrytest.Start(t, nil)
	}
	repoPath := o.Repository
	if repoPath == "" {
		repoPath = "org/pgcli"
	}
	base := PushBase(t, fx, reg)

	dir := t.TempDir()
	cfg := fmt.Sprintf(`name: pgcli
version: %s-r1
repository: %s/%s
base: %s
platforms: [%s]
requirements: requirements.in
lock: requirements.lock
user: {name: pgcli, uid: 10001, gid: 10001, home: /home/pgcli}
entrypoint: [pgcli]
env:
  LANG: C.UTF-8
source:
  url: https://example.test/pgcli-container
  revision: 0123456789abcdef0123456789abcdef01234567
`, fx.PgcliVersion, reg, repoPath, base, joinPlatforms(fx.Platforms))
	write(t, filepath.Join(dir, "harden.yaml"), []byte(cfg))
	write(t, filepath.Join(dir, "requirements.lock"), read(t, fx.Lock))
	write(t, filepath.Join(dir, "requirements.in"), read(t, fx.RequirementsIn))

	pr, err := project.Load(ctx, filepath.Join(dir, "harden.yaml"), "")
	if err != nil {
		t.Fatalf("load fixture project: %v", err)
	}
	rc := registry.New()
	out := filepath.Join(dir, "out")
	rec, err := build.Run(ctx, build.Params{
		Project: pr, Out: out, WheelDir: fx.WheelDir, CacheDir: filepath.Join(dir, "cache"),
		SourceDateEpoch: strconv.FormatInt(fx.SourceDateEpoch, 10), Registry: rc,
	})
	if err != nil {
		t.Fatalf("build fixture image: %v", err)
	}
	rel, err := publish.Publish(ctx, publish.Params{Out: out, Repository: pr.Config.Repository, Registry: rc})
	if err != nil {
		t.Fatalf("publish fixture image: %v", err)
	}
	idx, _, err := dist.Dir(out).Build()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(rel.Image)
	if err != nil {
		t.Fatal(err)
	}
	return &Result{Fixture: fx, Registry: reg, Repo: ref.Context(), Ref: ref, Out: out,
		Record: rec, Release: rel, Index: idx, Lock: pr.Lock, Config: pr.Config, Client: rc}
}

// Copy publishes idx (nil: the fixture build's index) to path below the
// fixture's registry, by digest, and returns the release record of that
// copy and its subjects: the index, then each platform manifest.
func (r *Result) Copy(t testing.TB, idx v1.ImageIndex, path string) (*dist.Release, []name.Digest) {
	t.Helper()
	if idx == nil {
		idx = r.Index
	}
	repo := r.Repo.Registry.Repo(path)
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref := repo.Digest(d.String())
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	rel := *r.Release
	rel.Image, rel.Repository, rel.Digest, rel.Platforms = ref.String(), repo.String(), d.String(), nil
	subs := []name.Digest{ref}
	for i, m := range im.Manifests {
		rel.Platforms = append(rel.Platforms, dist.Platform{Platform: r.Record.Platforms[i].Platform, Digest: m.Digest.String(), Image: repo.Digest(m.Digest.String()).String()})
		subs = append(subs, repo.Digest(m.Digest.String()))
	}
	return &rel, subs
}

// Image returns the platform image of the build for platform p
// ("linux/amd64").
func (r *Result) Image(t testing.TB, p string) v1.Image {
	t.Helper()
	for _, pl := range r.Record.Platforms {
		if pl.Platform != p {
			continue
		}
		h, err := v1.NewHash(pl.Digest)
		if err != nil {
			t.Fatal(err)
		}
		img, err := r.Index.Image(h)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	t.Fatalf("the fixture build has no platform %s", p)
	return nil
}

func joinPlatforms(ps []string) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ", "
		}
		s += p
	}
	return s
}

func read(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// SBOMs catalogues the fixture build for the image name repo, in every
// format: the sbom stage's documents for a publication of it.
func (r *Result) SBOMs(t testing.TB, repo string) []sbom.Document {
	t.Helper()
	sboms, err := sbom.ForIndex(context.Background(), r.Index, r.Record, sbom.Options{ToolName: "harden", ToolVersion: "test", Name: repo})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := sbom.Documents(sboms)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}
