package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/harden-dev/harden/internal/registry/faultreg"
	"github.com/harden-dev/harden/internal/registry/registrytest"
)

// TestPublishFaultSweep injects every fault kind at seeded request indexes
// of a full push (blobs, manifests, index, read-back, tag) followed by a
// verified pull. Each run must succeed; whatever happens, no tag may
// point at anything but the complete, valid index, and a rerun without
// faults must succeed.
func TestPublishFaultSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("fault sweep: skipped in -short mode")
	}
	const runs = 210
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var fh *faultreg.Handler
	reg := registrytest.Start(t, func(h http.Handler) http.Handler {
		fh = faultreg.New(h, time.Second)
		return fh
	})
	// Fast retries; a header timeout below the stall but well above what a
	// loaded CI machine needs to answer on loopback.
	c := New(WithTransport(DefaultTransport(400*time.Millisecond)),
		WithBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 4}))
	idx := testIndex(t)
	want, _ := idx.Digest()

	// publish is the whole operation under test: push and tag, then pull
	// everything back and check every digest.
	publish := func(repo name.Repository) error {
		ref, err := c.PushIndex(ctx, repo, idx, "v1")
		if err != nil {
			return err
		}
		got, err := c.Index(ctx, ref)
		if err != nil {
			return err
		}
		return validate.Index(got)
	}
	// Count the requests of a clean publish once connections and pings
	// are warm, as they are for every run after the first.
	n := 0
	for i := 0; i < 2; i++ {
		probe, _ := name.NewRepository(fmt.Sprintf("%s/sweep/probe%d", reg, i))
		fh.Arm(faultreg.Fault{At: -1})
		if err := publish(probe); err != nil {
			t.Fatal(err)
		}
		_, n = fh.Disarm()
	}
	t.Logf("a clean publish makes %d requests", n)

	rng := rand.New(rand.NewPCG(2026, 11))
	kinds := faultreg.Kinds()
	counts := map[string]int{}
	fires := 0
	start := time.Now()
	for i := 0; i < runs; i++ {
		if ctx.Err() != nil {
			t.Fatalf("sweep exceeded its time bound after %d runs", i)
		}
		f := faultreg.Fault{At: rng.IntN(n), Kind: kinds[i%len(kinds)]}
		repo, _ := name.NewRepository(fmt.Sprintf("%s/sweep/r%d", reg, i))
		fh.Arm(f)
		err := publish(repo)
		fired, _ := fh.Disarm()
		if fired != "" {
			fires++
		}
		outcome := "ok"
		if err != nil {
			// Every fault is survived: requests are retried, small blobs
			// are checked and re-fetched, large ones resume, and uploads
			// restart. A failure here is a bug, though it must still
			// leave a state the rerun below can finish.
			outcome = "failed"
			t.Errorf("run %d: %s was not survived: %v", i, fired, err)
		}
		counts[f.Kind.String()+" "+outcome]++

		// Invariant: a tag, if present, names the complete index.
		if tags, lerr := remote.List(repo, remote.WithContext(ctx)); lerr == nil && len(tags) > 0 {
			tag, _ := name.NewTag(repo.String() + ":v1")
			desc, gerr := remote.Get(tag, remote.WithContext(ctx))
			if gerr != nil || desc.Digest != want {
				t.Errorf("run %d (%s): tag v1 -> %v, %v; want %s", i, fired, desc, gerr, want)
			} else if ri, _ := desc.ImageIndex(); validate.Index(ri) != nil {
				t.Errorf("run %d (%s): tag v1 names an incomplete index", i, fired)
			}
		}
		// A failed run is finished by a plain rerun.
		if err != nil {
			if rerr := publish(repo); rerr != nil {
				t.Errorf("run %d (%s): failed with %v, and the rerun failed too: %v", i, fired, err, rerr)
			}
		}
	}
	t.Logf("%d runs (%d with a fault fired) in %s: %v", runs, fires, time.Since(start).Round(time.Millisecond), counts)
	if fires < runs*9/10 {
		t.Errorf("only %d of %d runs hit their fault; the sweep is not testing what it claims", fires, runs)
	}
}
