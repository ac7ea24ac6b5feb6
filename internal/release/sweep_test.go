package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/faultreg"
	"github.com/harden-dev/harden/internal/registry/registrytest"
)

// swappable serves from a registry that can be replaced by an empty one,
// so that every sweep run publishes to the same repository name (which
// the SBOMs of the prepared build are bound to) in an empty registry.
type swappable struct{ h atomic.Pointer[http.Handler] }

func (s *swappable) reset() {
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	s.h.Store(&h)
}

func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

// TestReleaseFaultSweep injects each fault kind at seeded request indexes
// of the registry stages of a release (publish, sign, attest, verify,
// tag), starting each run from the same prepared build in an empty
// registry. Every run must succeed, or stop with a StopError; then no
// signature may exist for an incomplete image, every tag must name a
// complete manifest, and a plain rerun must finish the release with one
// signature and attestation of each type per manifest.
func TestReleaseFaultSweep(t *testing.T) {
	if raceEnabled {
		t.Skip("release fault sweep: about 3 s per run, too slow under the race detector; make test runs it without -race")
	}
	e := setup(t)
	runs := 42
	if s := os.Getenv("HARDEN_SWEEP_RUNS"); s != "" {
		if _, err := fmt.Sscan(s, &runs); err != nil {
			t.Fatalf("HARDEN_SWEEP_RUNS=%q: %v", s, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	sw := &swappable{}
	sw.reset()
	var fh *faultreg.Handler
	reg := registrytest.Start(t, func(http.Handler) http.Handler {
		fh = faultreg.New(sw, 2*time.Second)
		return fh
	})
	// Fast retries, and a header timeout below the stall but above the
	// time the registry takes to answer the upload of the base layer.
	rc := registry.New(registry.WithTransport(registry.DefaultTransport(time.Second)),
		registry.WithBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 4}))

	// Prepare once: build, smoke-test, publish and make the SBOMs (which
	// are bound to the repository name); every run then starts from a copy
	// of that output in an empty registry.
	repo := reg + "/sweep/pgcli"
	prep := e.options(t, repo)
	prep.Registry = rc
	prep.AfterStage = func(s string) error {
		if s == StageSBOM {
			return errInjected
		}
		return nil
	}
	if _, _, err := Run(ctx, prep); !errors.Is(err, errInjected) {
		t.Fatalf("prepare: %v", err)
	}
	// release runs the registry stages from a copy of the prepared output.
	release := func(i int) (Options, error) {
		o := prep
		o.AfterStage = nil
		o.Tags = []string{"rel"}
		o.Out = filepath.Join(t.TempDir(), "dist")
		if err := copyTree(prep.Out, o.Out); err != nil {
			t.Fatal(err)
		}
		_, _, err := Run(ctx, o)
		return o, err
	}
	fh.Arm(faultreg.Fault{At: -1})
	if _, err := release(-1); err != nil {
		t.Fatalf("clean probe release: %v", err)
	}
	_, n := fh.Disarm()
	t.Logf("the registry stages of a clean release make %d requests", n)

	rng := rand.New(rand.NewPCG(2026, 1129))
	kinds := faultreg.Kinds()
	counts := map[string]int{}
	fires := 0
	start := time.Now()
	for i := 0; i < runs; i++ {
		if ctx.Err() != nil {
			t.Fatalf("sweep exceeded its time bound after %d runs", i)
		}
		sw.reset()
		f := faultreg.Fault{At: rng.IntN(n), Kind: kinds[i%len(kinds)]}
		fh.Arm(f)
		o, err := release(i)
		fired, seen := fh.Disarm()
		if fired != "" {
			fires++
		} else {
			t.Logf("run %d: fault %s at request %d did not fire: the run made %d requests", i, f.Kind, f.At, seen)
		}
		outcome := "ok"
		if err != nil {
			t.Logf("run %d (%s): %v", i, fired, firstLine(err.Error()))
			outcome = "stopped"
			var stop *StopError
			if !errors.As(err, &stop) || !strings.Contains(err.Error(), "to finish: ") {
				t.Errorf("run %d (%s): not a StopError that says how to finish: %v", i, fired, err)
			}
		}
		counts[f.Kind.String()+" "+outcome]++
		checkRegistry(t, ctx, repo, fmt.Sprintf("run %d (%s)", i, fired))
		if err != nil {
			rec, _, rerr := Run(ctx, o)
			if rerr != nil {
				t.Errorf("run %d (%s): stopped with %v, and the rerun failed too: %v", i, fired, err, rerr)
				continue
			}
			countEntries(t, rc, rec)
			checkRegistry(t, ctx, repo, fmt.Sprintf("run %d rerun", i))
		}
	}
	t.Logf("%d runs (%d with a fault fired) in %s: %v", runs, fires, time.Since(start).Round(time.Millisecond), counts)
	if fires < runs*9/10 {
		t.Errorf("only %d of %d runs hit their fault; the sweep is not testing what it claims", fires, runs)
	}
}

// checkRegistry asserts the invariants that must hold whatever failed:
// every tag names a manifest whose content is all there, and whatever is
// signed (index or platform manifest) is complete.
func checkRegistry(t *testing.T, ctx context.Context, repo, what string) {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r, remote.WithContext(ctx))
	if err != nil {
		return // nothing pushed yet
	}
	for _, tg := range tags {
		ref := r.Tag(tg)
		desc, err := remote.Get(ref, remote.WithContext(ctx))
		if err != nil {
			t.Errorf("%s: tag %s names a missing manifest: %v", what, tg, err)
			continue
		}
		if desc.MediaType.IsIndex() {
			idx, _ := desc.ImageIndex()
			if err := validate.Index(idx, validate.Fast); err != nil {
				t.Errorf("%s: tag %s names an incomplete index: %v", what, tg, err)
			}
		} else if img, err := desc.Image(); err != nil || validate.Image(img, validate.Fast) != nil {
			t.Errorf("%s: tag %s names an incomplete image: %v", what, tg, err)
		}
		// A tag of the image itself, or a signature of it: either way the
		// image it is about must be complete.
		subject := ""
		switch {
		case tg == "rel":
			subject = desc.Digest.String()
		case strings.HasPrefix(tg, "sha256-"):
			subject = "sha256:" + strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(tg, "sha256-"), ".sig"), ".att")
		}
		if subject == "" {
			continue
		}
		d := r.Digest(subject)
		sd, err := remote.Get(d, remote.WithContext(ctx))
		if err != nil {
			t.Errorf("%s: %s is signed or tagged (%s) but not in the registry: %v", what, subject[:19], tg, err)
			continue
		}
		var verr error
		if sd.MediaType.IsIndex() {
			idx, _ := sd.ImageIndex()
			verr = validate.Index(idx, validate.Fast)
		} else {
			img, _ := sd.Image()
			verr = validate.Image(img, validate.Fast)
		}
		if verr != nil {
			t.Errorf("%s: %s is signed or tagged (%s) but incomplete: %v", what, subject[:19], tg, verr)
		}
	}
}

// copyTree copies a directory of regular files, hard-linking where it
// can: nothing in a build output is modified in place.
func copyTree(from, to string) error {
	return filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if os.Link(p, dst) == nil {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, fi.Mode().Perm())
	})
}
