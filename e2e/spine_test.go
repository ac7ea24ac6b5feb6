package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/fixture"
)

const epoch = "SOURCE_DATE_EPOCH=1700000000"

// TestSpine is the main path: build → test (runc, uid 10001) →
// publish to both registries → skopeo agrees on the digest.
func TestSpine(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	regs := registries(t)
	cache := t.TempDir()

	// One build, published to both registries: the base must then come
	// from each registry too, so build per registry and compare digests.
	layers := map[string][]string{}
	for _, kind := range []string{"ggcr", "distribution"} {
		reg := regs[kind]
		t.Run(kind, func(t *testing.T) {
			base := pushBase(t, fx, reg)
			res := run(t, nil, "base", "resolve", reg+"/library/python:3.11-bookworm-fixture")
			if res.code != 0 || strings.SplitN(res.stdout, "\n", 2)[0] != base || !strings.Contains(res.stdout, "linux/amd64") {
				t.Fatalf("base resolve should print %s and its platforms: %s", base, res)
			}
			repo := fmt.Sprintf("%s/e2e/pgcli-%s-%d", reg, kind, time.Now().UnixNano())
			pr := newProject(t, fx, base, repo)
			out := filepath.Join(pr.Dir, "dist")

			b := run(t, []string{epoch}, "build", "--config", pr.Config, "--wheel-dir", fx.WheelDir, "--cache-dir", cache, "--out", out, "-o", "json")
			if b.code != 0 {
				t.Fatalf("build failed: %s", b)
			}
			rec := decode[buildRecord](t, b)
			if !strings.HasPrefix(rec.Digest, "sha256:") || len(rec.Platforms) != len(fx.Platforms) {
				t.Fatalf("unexpected build record: %+v", rec)
			}
			if got, want := len(rec.Platforms[0].Wheels), len(fx.Wheels); got != want {
				t.Errorf("installed %d wheels, fixture lock has %d", got, want)
			}
			layers[reg] = addedLayers(t, rec.Platforms[0].Digest, out)

			if os.Geteuid() == 0 {
				tr := run(t, nil, "test", "--config", pr.Config, "--out", out)
				t.Logf("harden test:\n%s", tr.stdout)
				if tr.code != 0 {
					t.Fatalf("smoke test failed: %s", tr)
				}
				for _, want := range []string{"runtime  runc", "PASS  smoke: pgcli --version → \"Version: " + fx.PgcliVersion + "\"", "PASS  smoke: runs as uid 10001 → \"10001\"", "PASS  config: non-root user 10001"} {
					if !strings.Contains(tr.stdout, want) {
						t.Errorf("harden test output lacks %q", want)
					}
				}
				// The last-resort runtime must reach the same verdicts.
				tr = run(t, nil, "test", "--config", pr.Config, "--out", out, "--runtime", "chroot")
				if tr.code != 0 || !strings.Contains(tr.stdout, "runtime  chroot") || strings.Contains(tr.stdout, "FAIL") {
					t.Errorf("smoke test with chroot: %s", tr)
				}
			} else {
				require(t, false, "harden test with runc needs root")
			}

			pub := run(t, nil, "publish", "--config", pr.Config, "--out", out, "-o", "json")
			if pub.code != 0 {
				t.Fatalf("publish failed: %s", pub)
			}
			var rel struct {
				Image     string
				Digest    string
				Platforms []struct{ Platform, Digest, Image string }
				Base      struct{ Digest string }
				Lock      struct{ Digest string }
			}
			if err := json.Unmarshal([]byte(pub.stdout), &rel); err != nil {
				t.Fatal(err)
			}
			if rel.Digest != rec.Digest || rel.Image != repo+"@"+rec.Digest {
				t.Fatalf("published %s (%s), built %s", rel.Image, rel.Digest, rec.Digest)
			}
			if rel.Base.Digest == "" || !strings.HasPrefix(rel.Lock.Digest, "sha256:") || len(rel.Platforms) != len(rec.Platforms) {
				t.Errorf("release record incomplete: %s", pub.stdout)
			}
			if _, err := os.Stat(filepath.Join(out, "release.json")); err != nil {
				t.Errorf("release.json not written: %v", err)
			}
			if !manifestExists(t, rel.Image) {
				t.Fatalf("%s not in registry after publish", rel.Image)
			}
			if tags := repoTags(t, repo); len(tags) != 0 {
				t.Errorf("publish without --tag created tags %v", tags)
			}
			skopeoAgrees(t, rel.Image, rec.Digest)
			for _, pl := range rel.Platforms {
				skopeoAgrees(t, pl.Image, pl.Digest)
			}
		})
	}
	// The base is named by a different host in each run, so the configs
	// (labels) differ; the layers harden adds must not.
	if a, b := layers[regs["ggcr"]], layers[regs["distribution"]]; len(a) == 0 || strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("the same inputs gave different harden layers:\n%v\n%v", a, b)
	}
}

// skopeoAgrees checks with an independent client that ref's manifest
// bytes hash to digest and that the image config is what harden wrote.
func skopeoAgrees(t *testing.T, ref, digest string) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		require(t, false, "skopeo is not installed")
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+ref).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --raw %s: %v", ref, err)
	}
	sum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		t.Fatalf("skopeo sees %s for %s, want %s", got, ref, digest)
	}
	var m struct {
		MediaType string           `json:"mediaType"`
		Manifests []map[string]any `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Manifests != nil {
		for _, d := range m.Manifests {
			if _, ok := d["artifactType"]; ok {
				t.Errorf("index descriptor %v carries artifactType: images are not artifacts", d["digest"])
			}
		}
		return // an index: its children are checked on their own
	}
	cfg, err := exec.Command("skopeo", "inspect", "--config", "--tls-verify=false", "docker://"+ref).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --config %s: %v", ref, err)
	}
	var c struct {
		Config struct {
			User       string
			Entrypoint []string
			Labels     map[string]string
		} `json:"config"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	if c.Config.User != "10001:10001" || strings.Join(c.Config.Entrypoint, " ") != "pgcli" {
		t.Errorf("skopeo sees User=%q Entrypoint=%q", c.Config.User, c.Config.Entrypoint)
	}
	for _, k := range []string{"source", "revision", "version", "created", "base.name", "base.digest"} {
		if c.Config.Labels["org.opencontainers.image."+k] == "" {
			t.Errorf("label org.opencontainers.image.%s missing", k)
		}
	}
}

// TestReproducible: two builds in different directories with different
// caches, at different wall-clock times and (as root) by different users,
// one of them unprivileged, give the same index digest; a different
// SOURCE_DATE_EPOCH gives a different one.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	regs := registries(t)
	base := pushBase(t, fx, regs["ggcr"])
	build := func(env string, nobody bool) string {
		pr := newProject(t, fx, base, regs["ggcr"]+"/e2e/repro")
		args := []string{"build", "--config", pr.Config, "--wheel-dir", fx.WheelDir,
			"--cache-dir", filepath.Join(pr.Dir, "cache"), "--out", filepath.Join(pr.Dir, "out"), "-o", "json"}
		var r result
		if nobody {
			// Building needs no privileges: the project dir is the only
			// place this build may write.
			for _, d := range []string{filepath.Dir(pr.Dir), pr.Dir} {
				if err := os.Chmod(d, 0o777); err != nil {
					t.Fatal(err)
				}
			}
			r = runAsNobody(t, []string{env, "DOCKER_CONFIG=" + pr.Dir, "HOME=" + pr.Dir}, args...)
		} else {
			r = run(t, []string{env}, args...)
		}
		if r.code != 0 {
			t.Fatalf("build (as nobody: %v): %s", nobody, r)
		}
		return decode[buildRecord](t, r).Digest
	}
	first := build(epoch, false)
	time.Sleep(1100 * time.Millisecond)
	second := build(epoch, os.Geteuid() == 0)
	third := build("SOURCE_DATE_EPOCH=1700000001", false)
	t.Logf("build 1: %s\nbuild 2: %s\nbuild 3 (epoch+1): %s", first, second, third)
	if first != second {
		t.Errorf("same inputs, different digests: %s vs %s", first, second)
	}
	if third == first {
		t.Errorf("a different SOURCE_DATE_EPOCH gave the same digest %s", third)
	}
}

// addedLayers returns the digests of the two layers harden adds on top of
// the base (user, wheels), read from the build's OCI layout.
func addedLayers(t *testing.T, digest, out string) []string {
	t.Helper()
	idx, _, err := dist.Dir(out).Build()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(mustHash(t, digest))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, l := range m.Layers[len(m.Layers)-2:] {
		ds = append(ds, l.Digest.String())
	}
	return ds
}
