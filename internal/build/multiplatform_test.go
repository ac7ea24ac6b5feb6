package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/layer"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/wheel/wheeltest"
	"github.com/harden-dev/harden/internal/wheels"
)

var epoch = time.Unix(1700000000, 0).UTC()

// debianBase is a tiny Debian-shaped Python base for one architecture.
func debianBase(t *testing.T, arch, triplet string) v1.Image {
	t.Helper()
	tr := layer.New()
	_ = tr.AddFile("usr/bin/python3.11", 0o755, []byte("\x7fELF 3.11.2 (main, Mar 13 2023)"))
	_ = tr.AddSymlink("usr/bin/python3", "python3.11")
	_ = tr.AddDir("usr/lib/python3/dist-packages")
	_ = tr.AddFile("usr/lib/"+triplet+"/libc.so.6", 0o755, []byte("GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36."))
	_ = tr.Add(layer.Entry{Path: "etc/passwd", Type: tar.TypeReg, Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\n")})
	_ = tr.Add(layer.Entry{Path: "etc/group", Type: tar.TypeReg, Mode: 0o644, Data: []byte("root:x:0:\n")})
	_ = tr.Add(layer.Entry{Path: "tmp", Type: tar.TypeDir, Mode: 0o1777})
	b, err := layer.Writer{Dir: t.TempDir(), Compression: layer.Gzip}.WriteTree(tr, epoch, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, b.Layer())
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd = []string{"python3"}
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
}

type fixture struct {
	cfg   *config.Config
	lock  *lock.File
	input *lock.Input
	src   wheels.Source
	dir   string // the wheels src serves
	reg   string
	blobs *atomic.Int64 // blob requests the registry served
}

func newFixture(t *testing.T, platforms string) *fixture {
	t.Helper()
	blobs := &atomic.Int64{}
	reg := registrytest.Start(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/") {
				blobs.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: debianBase(t, "amd64", "x86_64-linux-gnu"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: debianBase(t, "arm64", "aarch64-linux-gnu"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	d, _ := idx.Digest()
	ref, _ := name.ParseReference(reg + "/library/python:3.11")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pure := wheeltest.Write(t, dir, "purepkg-1.0-py3-none-any.whl", "purepkg", "1.0",
		wheeltest.Member{Name: "purepkg/__init__.py", Data: "def main(): print('hi')\n"},
		wheeltest.Member{Name: "purepkg-1.0.dist-info/entry_points.txt", Data: "[console_scripts]\npgcli = purepkg:main\n"})
	x86 := wheeltest.Write(t, dir, "natpkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", "natpkg", "2.0",
		wheeltest.Member{Name: "natpkg/_native.so", Data: "x86_64 code"})
	arm := wheeltest.Write(t, dir, "natpkg-2.0-cp311-cp311-manylinux_2_17_aarch64.whl", "natpkg", "2.0",
		wheeltest.Member{Name: "natpkg/_native.so", Data: "aarch64 code"})
	lockText := fmt.Sprintf("natpkg==2.0 \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\npurepkg==1.0 \\\n    --hash=sha256:%s\n", x86, arm, pure)
	lf, err := lock.Parse(strings.NewReader(lockText), "requirements.lock")
	if err != nil {
		t.Fatal(err)
	}
	in, err := lock.ParseInput(strings.NewReader("purepkg\n"), "requirements.in")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`name: pgcli
version: 1.0-r1
repository: %s/org/pgcli
base: %s/library/python:3.11@%s
platforms: [%s]
entrypoint: [pgcli]
`, reg, reg, d, platforms)), "harden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{cfg: cfg, lock: lf, input: in, src: wheels.NewDir(dir), dir: dir, reg: reg, blobs: blobs}
}

func (f *fixture) build(t *testing.T) (v1.ImageIndex, *buildrecord.Record, error) {
	t.Helper()
	cache, _ := wheels.NewCache(t.TempDir())
	return Build(context.Background(), Options{Config: f.cfg, Lock: f.lock, Input: f.input, Source: f.src,
		Cache: cache, Registry: registry.New(), Epoch: epoch, BlobDir: t.TempDir()})
}

func layerFiles(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = io.Copy(&b, tr)
		h.PAXRecords = map[string]string{"content": b.String()}
		out["/"+strings.TrimSuffix(h.Name, "/")] = h
	}
}

func TestBuildMultiPlatform(t *testing.T) {
	f := newFixture(t, "linux/amd64, linux/arm64")
	idx, rec, err := f.build(t)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 || len(rec.Platforms) != 2 {
		t.Fatalf("index %+v, record platforms %d", im, len(rec.Platforms))
	}
	site := "/usr/local/lib/python3.11/dist-packages"
	for i, want := range []struct{ platform, arch, native string }{
		{"linux/amd64", "amd64", "x86_64 code"}, {"linux/arm64", "arm64", "aarch64 code"},
	} {
		m := im.Manifests[i]
		if m.Platform == nil || m.Platform.Architecture != want.arch || m.ArtifactType != "" {
			t.Errorf("descriptor %d: %+v", i, m)
		}
		pr := rec.Platforms[i]
		if pr.Platform != want.platform || pr.Digest != m.Digest.String() || pr.Python.Version != "3.11.2" || pr.Python.Purelib != site {
			t.Errorf("record %d: %+v", i, pr)
		}
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		c := cf.Config
		if c.User != "10001:10001" || strings.Join(c.Entrypoint, " ") != "pgcli" || len(c.Cmd) != 0 || c.WorkingDir != "/home/pgcli" {
			t.Errorf("%s config: user %q entrypoint %q cmd %q workdir %q", want.platform, c.User, c.Entrypoint, c.Cmd, c.WorkingDir)
		}
		if !cf.Created.Time.Equal(epoch) || c.Labels["org.opencontainers.image.created"] != "2023-11-14T22:13:20Z" ||
			c.Labels["org.opencontainers.image.base.digest"] != pr.BaseDigest || c.Labels["org.opencontainers.image.version"] != "1.0-r1" ||
			c.Labels["org.opencontainers.image.base.name"] != f.reg+"/library/python:3.11" {
			t.Errorf("%s: created %v labels %v", want.platform, cf.Created, c.Labels)
		}
		if !strings.Contains(strings.Join(c.Env, " "), "HOME=/home/pgcli") {
			t.Errorf("%s env %v", want.platform, c.Env)
		}
		ls, _ := img.Layers()
		if len(ls) != 3 {
			t.Fatalf("%s: %d layers, want base + user + wheels", want.platform, len(ls))
		}
		files := layerFiles(t, ls[2])
		if h := files[site+"/natpkg/_native.so"]; h == nil || h.PAXRecords["content"] != want.native {
			t.Errorf("%s: wrong native module %+v", want.platform, h)
		}
		if h := files["/usr/local/bin/pgcli"]; h == nil || h.Mode != 0o755 || !strings.HasPrefix(h.PAXRecords["content"], "#!/usr/bin/python3.11\n") {
			t.Errorf("%s: console script %+v", want.platform, h)
		}
		if files[site+"/purepkg-1.0.dist-info/REQUESTED"] == nil || files[site+"/natpkg-2.0.dist-info/REQUESTED"] != nil {
			t.Errorf("%s: REQUESTED must mark only top-level requirements", want.platform)
		}
		// Wheel layers carry a fixed mtime, so they depend on the wheels
		// only; the user layer carries SOURCE_DATE_EPOCH.
		for p, h := range files {
			if !h.ModTime.Equal(buildrecord.WheelMtime) || h.Uid != 0 || h.Gid != 0 {
				t.Errorf("%s: %s has mtime %v owner %d:%d", want.platform, p, h.ModTime, h.Uid, h.Gid)
			}
		}
		user := layerFiles(t, ls[1])
		for p, h := range user {
			if !h.ModTime.Equal(epoch) {
				t.Errorf("%s: user layer %s has mtime %v", want.platform, p, h.ModTime)
			}
		}
		if h := user["/home/pgcli"]; h == nil || h.Uid != 10001 || h.Gid != 10001 {
			t.Errorf("%s: home dir %+v", want.platform, h)
		}
	}
	_, again, err := f.build(t)
	if err != nil || again.Digest != rec.Digest {
		t.Errorf("rebuild gave %v (%v), first %s", again, err, rec.Digest)
	}
}

func TestBuildPlatformMissingFromBase(t *testing.T) {
	f := newFixture(t, "linux/amd64, linux/s390x")
	_, _, err := f.build(t)
	if err == nil || !strings.Contains(err.Error(), "has no linux/s390x manifest") || !strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Fatalf("err = %v", err)
	}
}

// TestBuildFromInspectedBase: a base read once by baseimage.InspectConfig gives the
// targets (what harden lock and the release's lock stage use) and the same
// image as a build that reads the base itself, without reading a blob again.
func TestBuildFromInspectedBase(t *testing.T) {
	f := newFixture(t, "linux/amd64, linux/arm64")
	_, plain, err := f.build(t)
	if err != nil {
		t.Fatal(err)
	}
	base, err := baseimage.InspectConfig(context.Background(), registry.New(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := base.Targets(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range targets {
		got = append(got, fmt.Sprintf("%s %s %s glibc %d.%d", tg.Platform, tg.Env["python_full_version"], tg.Wheel.Arch, tg.Wheel.GlibcMajor, tg.Wheel.GlibcMinor))
	}
	if want := "linux/amd64 3.11.2 x86_64 glibc 2.36, linux/arm64 3.11.2 aarch64 glibc 2.36"; strings.Join(got, ", ") != want {
		t.Errorf("targets %q, want %q", strings.Join(got, ", "), want)
	}
	read := f.blobs.Load()
	cache, _ := wheels.NewCache(t.TempDir())
	_, rec, err := Build(context.Background(), Options{Config: f.cfg, Lock: f.lock, Input: f.input, Source: f.src,
		Cache: cache, Registry: registry.New(), Epoch: epoch, Base: base, BlobDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Digest != plain.Digest {
		t.Errorf("build from the inspected base: %s, reading the base itself: %s", rec.Digest, plain.Digest)
	}
	if n := f.blobs.Load() - read; n != 0 {
		t.Errorf("the build read %d blob(s) of a base it was given", n)
	}

	other := *f.cfg
	other.Base = f.reg + "/library/python:3.11@sha256:" + strings.Repeat("0", 64)
	if _, _, err := Build(context.Background(), Options{Config: &other, Lock: f.lock, Input: f.input, Source: f.src,
		Cache: cache, Registry: registry.New(), Epoch: epoch, Base: base, BlobDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not the configured") {
		t.Errorf("a build given another base: %v", err)
	}
}
