package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/harden-dev/harden/internal/build"
	"github.com/harden-dev/harden/internal/fixture"
	hproject "github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/publish"
	"github.com/harden-dev/harden/internal/registry"
)

// TestConcurrentReleases builds and publishes two different images to the
// same registry at the same time: from one process through the library
// (so -race sees any shared state), and from two harden processes.
func TestConcurrentReleases(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	regs := registries(t)
	reg := regs["distribution"]
	base := pushBase(t, fx, reg)
	cache := t.TempDir() // shared on purpose: both builds fill it at once

	projects := func(tag string) []*project {
		var ps []*project
		for i := 0; i < 2; i++ {
			p := newProject(t, fx, base, fmt.Sprintf("%s/e2e/concurrent-%s-%d", reg, tag, i))
			// Same software, different image: the working directory
			// tells them apart.
			p.Extra = []string{"", "workingDir: /tmp\n"}[i]
			p.write(t)
			ps = append(ps, p)
		}
		return ps
	}
	check := func(t *testing.T, digests []string, images []string) {
		t.Helper()
		if digests[0] == "" || digests[0] == digests[1] {
			t.Fatalf("two different images should give two digests: %v", digests)
		}
		for i, img := range images {
			if img == "" || !manifestExists(t, img) {
				t.Errorf("image %d (%q) missing from the registry", i, img)
			}
		}
	}

	t.Run("library", func(t *testing.T) {
		ps := projects("lib")
		rc := registry.New()
		digests, images := make([]string, 2), make([]string, 2)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				pr, err := hproject.Load(ctx, p.Config, "")
				if err != nil {
					errs[i] = err
					return
				}
				out := filepath.Join(p.Dir, "dist")
				rec, err := build.Run(ctx, build.Params{Project: pr, Out: out, WheelDir: fx.WheelDir, CacheDir: cache,
					SourceDateEpoch: "1700000000", Registry: rc})
				if err != nil {
					errs[i] = err
					return
				}
				rel, err := publish.Publish(ctx, publish.Params{Out: out, Repository: pr.Config.Repository, Registry: rc})
				if err != nil {
					errs[i] = err
					return
				}
				digests[i], images[i] = rec.Digest, rel.Image
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("release %d: %v", i, err)
			}
		}
		check(t, digests, images)
	})

	t.Run("processes", func(t *testing.T) {
		ps := projects("proc")
		digests, images := make([]string, 2), make([]string, 2)
		results := make([]result, 2)
		var wg sync.WaitGroup
		for i, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := filepath.Join(p.Dir, "dist")
				b := run(t, []string{epoch}, "build", "--config", p.Config, "--wheel-dir", fx.WheelDir, "--cache-dir", cache, "--out", out, "-o", "json")
				if b.code != 0 {
					results[i] = b
					return
				}
				digests[i] = decode[buildRecord](t, b).Digest
				pub := run(t, nil, "publish", "--config", p.Config, "--out", out)
				results[i] = pub
				if pub.code == 0 {
					images[i] = lastLine(pub.stdout)
				}
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Fatalf("release %d: %s", i, r)
			}
		}
		check(t, digests, images)
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
