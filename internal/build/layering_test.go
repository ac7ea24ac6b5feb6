package build

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/wheel/wheeltest"
	"github.com/harden-dev/harden/internal/wheels"
)

// uploads records the digests of the blobs a registry received.
type uploads struct {
	mu      sync.Mutex
	digests []string
}

func (u *uploads) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	d := u.digests
	u.digests = nil
	return d
}

// layered is a project with one small wheel (purepkg, whose version the
// test moves) and one large one (bigpkg: 3 MiB of incompressible data,
// three parallel-gzip blocks).
type layered struct {
	reg, base string
	dir       string
	up        *uploads
}

func newLayered(t *testing.T) *layered {
	t.Helper()
	up := &uploads{}
	reg := registrytest.Start(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d := r.URL.Query().Get("digest"); r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && d != "" {
				up.mu.Lock()
				up.digests = append(up.digests, d)
				up.mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: debianBase(t, "amd64", "x86_64-linux-gnu"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	d, _ := idx.Digest()
	ref, _ := name.ParseReference(reg + "/library/python:3.11")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewChaCha8([32]byte{7}))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	wheeltest.Write(t, dir, "bigpkg-1.0-py3-none-any.whl", "bigpkg", "1.0",
		wheeltest.Member{Name: "bigpkg/__init__.py", Data: "\n"},
		wheeltest.Member{Name: "bigpkg/weights.bin", Data: string(big)})
	for _, v := range []string{"1.0", "1.1"} {
		wheeltest.Write(t, dir, "purepkg-"+v+"-py3-none-any.whl", "purepkg", v,
			wheeltest.Member{Name: "purepkg/__init__.py", Data: "VERSION = '" + v + "'\n"})
	}
	return &layered{reg: reg, base: fmt.Sprintf("%s/library/python:3.11@%s", reg, d), dir: dir, up: up}
}

func (l *layered) sum(t *testing.T, file string) string {
	t.Helper()
	s, err := wheels.NewDir(l.dir).Files(context.Background(), strings.SplitN(file, "-", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s {
		if f.Filename == file {
			return f.SHA256
		}
	}
	t.Fatalf("no %s", file)
	return ""
}

// build builds with purepkg at version pure, the build settings in
// buildYAML and the given epoch.
func (l *layered) build(t *testing.T, pure, buildYAML string, at time.Time, lay *buildrecord.Layering) (v1.ImageIndex, *buildrecord.Record, error) {
	t.Helper()
	lockText := fmt.Sprintf("bigpkg==1.0 \\\n    --hash=sha256:%s\npurepkg==%s \\\n    --hash=sha256:%s\n",
		l.sum(t, "bigpkg-1.0-py3-none-any.whl"), pure, l.sum(t, "purepkg-"+pure+"-py3-none-any.whl"))
	lf, err := lock.Parse(strings.NewReader(lockText), "requirements.lock")
	if err != nil {
		t.Fatal(err)
	}
	in, _ := lock.ParseInput(strings.NewReader("purepkg\nbigpkg\n"), "requirements.in")
	cfg, err := config.Parse([]byte(fmt.Sprintf("name: app\nversion: 1.0-r1\nrepository: %s/org/app\nbase: %s\nentrypoint: [python3]\n%s", l.reg, l.base, buildYAML)), "harden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := wheels.NewCache(t.TempDir())
	return Build(context.Background(), Options{Config: cfg, Lock: lf, Input: in, Source: wheels.NewDir(l.dir),
		Cache: cache, Registry: registry.New(), Epoch: at, BlobDir: t.TempDir(), Layering: lay})
}

func historyOf(t *testing.T, idx v1.ImageIndex) (v1.Image, []v1.Layer, []string) {
	t.Helper()
	im, _ := idx.IndexManifest()
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	cf, _ := img.ConfigFile()
	var created []string
	for _, h := range cf.History {
		created = append(created, h.CreatedBy)
	}
	return img, ls, created
}

// A wheel at or above the threshold gets a layer of its own holding
// exactly its files; the others share one.
func TestLargeWheelOwnLayer(t *testing.T) {
	l := newLayered(t)
	idx, rec, err := l.build(t, "1.0", "build: {wheelLayerThreshold: 1MiB}\n", epoch, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, ls, hist := historyOf(t, idx)
	if len(ls) != 4 || len(rec.Platforms[0].AppLayers) != 3 {
		t.Fatalf("%d layers (%d harden's), want base + user + shared + bigpkg; history %q", len(ls), len(rec.Platforms[0].AppLayers), hist)
	}
	if !strings.Contains(hist[len(hist)-1], "bigpkg-1.0-py3-none-any.whl") || !strings.Contains(hist[len(hist)-2], "install 1 locked wheels") {
		t.Errorf("history %q", hist)
	}
	own := layerFiles(t, ls[3])
	shared := layerFiles(t, ls[2])
	site := "/usr/local/lib/python3.11/dist-packages"
	for _, p := range []string{site + "/bigpkg/weights.bin", site + "/bigpkg-1.0.dist-info/RECORD", site + "/bigpkg-1.0.dist-info/INSTALLER"} {
		if own[p] == nil || shared[p] != nil {
			t.Errorf("%s: in own layer %v, in shared layer %v", p, own[p] != nil, shared[p] != nil)
		}
	}
	if shared[site+"/purepkg/__init__.py"] == nil || own[site+"/purepkg/__init__.py"] != nil {
		t.Error("purepkg is not (only) in the shared layer")
	}
	if rec.Layering == nil || rec.Layering.Format != buildrecord.CurrentFormat || rec.Layering.Compression != "pgzip-1mib" || rec.Layering.WheelLayerThreshold != 1<<20 || rec.Layering.MaxWheelLayers != config.DefaultMaxWheelLayers {
		t.Errorf("record layering %+v", rec.Layering)
	}

	// The budget: no own layers at all.
	idx, _, err = l.build(t, "1.0", "build: {wheelLayerThreshold: 1MiB, maxWheelLayers: 0}\n", epoch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ls, _ := historyOf(t, idx); len(ls) != 3 {
		t.Errorf("maxWheelLayers 0: %d layers", len(ls))
	}
}

// A release that changes a small wheel and the commit (so the epoch)
// uploads no byte of the unchanged large wheel: its layer has the same
// digest, and the registry already holds it.
func TestUnchangedLargeWheelNotUploaded(t *testing.T) {
	l := newLayered(t)
	push := func(idx v1.ImageIndex) {
		t.Helper()
		d, _ := idx.Digest()
		ref, _ := name.NewDigest(l.reg + "/org/app@" + d.String())
		if err := remote.WriteIndex(ref, idx); err != nil {
			t.Fatal(err)
		}
	}
	own := "build: {wheelLayerThreshold: 1MiB}\n"
	first, _, err := l.build(t, "1.0", own, epoch, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, ls1, _ := historyOf(t, first)
	bigLayer, _ := ls1[3].Digest()
	l.up.take() // the base
	push(first)
	if got := l.up.take(); !contains(got, bigLayer.String()) {
		t.Fatalf("first push uploaded %v, not the bigpkg layer %s", got, bigLayer)
	}
	second, _, err := l.build(t, "1.1", own, epoch.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, ls2, _ := historyOf(t, second)
	if d, _ := ls2[3].Digest(); d != bigLayer {
		t.Fatalf("the bigpkg layer changed: %s, then %s", bigLayer, d)
	}
	push(second)
	got := l.up.take()
	if contains(got, bigLayer.String()) {
		t.Errorf("the second push uploaded the unchanged bigpkg layer again: %v", got)
	}
	// user layer (new epoch), shared layer (new purepkg), config; the
	// manifests are not blobs.
	if len(got) != 3 {
		t.Errorf("the second push uploaded %d blobs %v, want the user layer, the shared wheel layer and the config", len(got), got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The image does not depend on the number of CPUs: the layers compress
// in parallel in fixed blocks.
func TestDigestIndependentOfCPUs(t *testing.T) {
	l := newLayered(t)
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	seen := map[string][]int{}
	for _, n := range []int{1, 2, 8} {
		runtime.GOMAXPROCS(n)
		_, rec, err := l.build(t, "1.0", "", epoch, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[rec.Digest] = append(seen[rec.Digest], n)
	}
	if len(seen) != 1 {
		t.Fatalf("GOMAXPROCS changed the image: %v", seen)
	}
}

// The first layer format (a provenance without layers) builds what the
// first harden built: one wheel layer at SOURCE_DATE_EPOCH, compressed as
// go-containerregistry's tarball package compresses.
func TestFirstFormatReplayed(t *testing.T) {
	l := newLayered(t)
	first := buildrecord.FirstLayering()
	idx, rec, err := l.build(t, "1.0", "build: {wheelLayerThreshold: 1KiB}\n", epoch, &first)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Layering != nil {
		t.Errorf("a first-format record carries layering %+v", rec.Layering)
	}
	_, ls, _ := historyOf(t, idx)
	if len(ls) != 3 {
		t.Fatalf("%d layers, want base + user + wheels", len(ls))
	}
	for _, lay := range ls[1:] {
		for p, h := range layerFiles(t, lay) {
			if !h.ModTime.Equal(epoch) {
				t.Errorf("%s has mtime %v", p, h.ModTime)
			}
		}
		ref, err := tarball.LayerFromOpener(lay.Uncompressed)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ref.Digest()
		if got, _ := lay.Digest(); got != want {
			t.Errorf("layer %s, go-containerregistry compresses the same tar to %s", got, want)
		}
	}
	if _, _, err := l.build(t, "1.0", "", epoch, &buildrecord.Layering{Format: 3, Compression: "pgzip-1mib"}); err == nil || errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "layer format 3") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestSizeLimits(t *testing.T) {
	l := newLayered(t)
	for _, c := range []struct{ yaml, want string }{
		{"build: {maxWheelSize: 1MiB}\n", "build.maxWheelSize"},
		{"build: {maxInstalledSize: 2MiB}\n", "build.maxInstalledSize"},
	} {
		_, _, err := l.build(t, "1.0", c.yaml, epoch, nil)
		if err == nil || errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bigpkg-1.0-py3-none-any.whl") {
			t.Errorf("%s: %v", strings.TrimSpace(c.yaml), err)
		}
	}
}

// A wheel altered in the wheel directory after it was listed is refused
// before it is installed, and nothing is left in the blob directory.
func TestTamperedWheelLeavesNothing(t *testing.T) {
	l := newLayered(t)
	lockSum := l.sum(t, "bigpkg-1.0-py3-none-any.whl")
	f, err := os.OpenFile(filepath.Join(l.dir, "bigpkg-1.0-py3-none-any.whl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()
	lf, _ := lock.Parse(strings.NewReader(fmt.Sprintf("bigpkg==1.0 \\\n    --hash=sha256:%s\n", lockSum)), "requirements.lock")
	cfg, _ := config.Parse([]byte(fmt.Sprintf("name: app\nversion: 1.0-r1\nrepository: %s/org/app\nbase: %s\nentrypoint: [python3]\n", l.reg, l.base)), "harden.yaml")
	cache, _ := wheels.NewCache(t.TempDir())
	blobs := t.TempDir()
	_, _, err = Build(context.Background(), Options{Config: cfg, Lock: lf, Source: wheels.NewDir(l.dir), Cache: cache,
		Registry: registry.New(), Epoch: epoch, BlobDir: blobs})
	if err == nil || !strings.Contains(err.Error(), "hash mismatch") {
		t.Fatalf("tampered wheel: %v", err)
	}
	left, _ := os.ReadDir(blobs)
	if len(left) != 0 {
		t.Errorf("left in the blob directory: %v", left)
	}
}

// Lock checking and resolution read the base and the wheels, not the
// image builder.
func TestLockToolsDoNotImportBuilder(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH: cannot list package dependencies")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/harden-dev/harden/internal/lockcheck", "github.com/harden-dev/harden/internal/resolve").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/harden-dev/harden/internal/build" {
			t.Fatal("lockcheck or resolve imports internal/build")
		}
	}
}
