package relocate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/export"
	"github.com/harden-dev/harden/internal/registry/faultreg"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/relocate"
)

// copyOK copies and requires success, read back included.
func copyOK(t *testing.T, src name.Digest, dst name.Repository) *relocate.Result {
	t.Helper()
	res, err := relocate.Copy(context.Background(), client(), src, dst)
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
	if !res.ReadBack || res.Digest != src.DigestStr() || res.Image != dst.Digest(src.DigestStr()).String() {
		t.Fatalf("copy result %+v", res)
	}
	return res
}

// requireNothingNew requires a run that found everything in place.
func requireNothingNew(t *testing.T, res *relocate.Result) {
	t.Helper()
	if res.Written() {
		t.Fatalf("a repeated copy wrote again: %+v", res)
	}
	if res.Manifests.Present == 0 || res.Blobs.Present == 0 || res.Referrers.Present == 0 || res.LegacyTags.Present == 0 {
		t.Fatalf("a repeated copy should report everything present: %+v", res)
	}
	for _, o := range res.Objects {
		if o.Status != relocate.StatusPresent {
			t.Errorf("repeated copy: %s %s is %s", o.Kind, o.Ref, o.Status)
		}
	}
}

// TestCopyKeepsEverything copies a synthetic image with referrers and
// legacy tags from a registry with the referrers API to one without it
// and back, and copies again to show nothing is written twice.
func TestCopyKeepsEverything(t *testing.T) {
	src := repo(t, registrytest.StartReferrers(t), "src")
	s := pushSynthetic(t, src, 1024)
	fb := repo(t, registrytest.Start(t, nil), "fallback")
	res := copyOK(t, s.ref, fb)
	if res.ReferrersStorage != "fallback-tag" {
		t.Errorf("destination without the referrers API reported as %q", res.ReferrersStorage)
	}
	if res.Manifests.Copied != 3 || res.Referrers.Copied != 6 || res.LegacyTags.Copied != 6 || res.Blobs.Copied == 0 {
		t.Errorf("first copy: %+v", res)
	}
	checkCopy(t, s.ref, fb, true)
	again := copyOK(t, s.ref, fb)
	requireNothingNew(t, again)
	for what, n := range map[string][2]relocate.Count{"manifests": {res.Manifests, again.Manifests}, "blobs": {res.Blobs, again.Blobs},
		"referrers": {res.Referrers, again.Referrers}, "legacy tags": {res.LegacyTags, again.LegacyTags}} {
		if n[0].Copied+n[0].Present != n[1].Present {
			t.Errorf("%s: the first copy counted %+v, the second %+v", what, n[0], n[1])
		}
	}

	back := repo(t, registrytest.StartReferrers(t), "back")
	from := fb.Digest(s.ref.DigestStr())
	res = copyOK(t, from, back)
	if res.ReferrersStorage != "api" {
		t.Errorf("destination with the referrers API reported as %q", res.ReferrersStorage)
	}
	checkCopy(t, from, back, false)
	requireNothingNew(t, copyOK(t, from, back))
}

// TestFallbackTagKeepsArtifactTypeAndAnnotations: attach.PutReferrer
// (and the copy) rely on go-containerregistry v0.22.1 listing a pushed
// referrer in the fallback tag with its artifactType and annotations, on
// a registry without the referrers API.
func TestFallbackTagKeepsArtifactTypeAndAnnotations(t *testing.T) {
	dist := repo(t, distribution(t), "fallback")
	ctx := context.Background()
	s := pushSynthetic(t, dist, 256)
	created := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	h, err := attach.New(client()).PutReferrer(ctx, s.ref, attach.Referrer{Bundle: []byte(`{"x":1}`), Content: attach.ContentMessage, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := manifestOf(t, fallbackTag(dist, s.ref.DigestStr()))
	var im v1.IndexManifest
	if err := json.Unmarshal(d.Manifest, &im); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range im.Manifests {
		if e.Digest != h {
			continue
		}
		found = true
		if e.ArtifactType != attach.BundleMediaType || e.Annotations[attach.AnnotationContent] != attach.ContentMessage ||
			e.Annotations[attach.AnnotationCreated] != created.Format(time.RFC3339) {
			t.Errorf("fallback entry lost artifactType or annotations: %+v", e)
		}
	}
	if !found || len(im.Manifests) != 3 {
		t.Errorf("fallback tag lists %d entries (want the 2 earlier ones and %s): %s", len(im.Manifests), h, d.Manifest)
	}
}

// TestFallbackRepaired: a referrer that is at the destination but not in
// its fallback tag (a copy cut off between the two) is listed again, and
// an entry that lacks artifactType and annotations (as older writers
// left them, cosign#4641) is completed; other entries stay as they are.
func TestFallbackRepaired(t *testing.T) {
	src := repo(t, registrytest.StartReferrers(t), "src")
	s := pushSynthetic(t, src, 512)
	dst := repo(t, registrytest.Start(t, nil), "dst")
	copyOK(t, s.ref, dst)
	theirs := foreignReferrer(t, dst, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: mustHash(t, s.ref.DigestStr()), Size: 1})

	tag := fallbackTag(dst, s.ref.DigestStr())
	d, _ := manifestOf(t, tag)
	var im v1.IndexManifest
	if err := json.Unmarshal(d.Manifest, &im); err != nil {
		t.Fatal(err)
	}
	dropped, bare := s.referrers[s.ref.DigestStr()][0], s.referrers[s.ref.DigestStr()][1]
	var kept []v1.Descriptor
	for _, e := range im.Manifests {
		switch e.Digest.String() {
		case dropped:
			continue
		case bare:
			e.ArtifactType, e.Annotations = "", nil
		}
		kept = append(kept, e)
	}
	im.Manifests = kept
	raw, _ := json.Marshal(im)
	if err := remote.Put(tag, rawManifest{raw, types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}

	res := copyOK(t, s.ref, dst)
	status := map[string]string{}
	for _, o := range res.Objects {
		status[o.Kind+" "+o.Ref] = o.Status
	}
	if status["referrer "+dropped] != relocate.StatusCopied || status["fallback-tag "+tag.TagStr()] != relocate.StatusUpdated ||
		status["referrer "+bare] != relocate.StatusPresent || res.Referrers.Copied != 1 {
		t.Errorf("repair run: %v", status)
	}
	checkCopy(t, s.ref, dst, true)
	if e, ok := referrerSet(t, dst, s.ref.DigestStr())[theirs]; !ok || e.Annotations["com.example.owner"] != "someone else" {
		t.Errorf("their entry changed: %+v", e)
	}
	requireNothingNew(t, copyOK(t, s.ref, dst))
}

// TestMalformedEntriesSkipped: entries of a source listing that are not
// referrers of the subject are reported and skipped; the copy succeeds.
func TestMalformedEntriesSkipped(t *testing.T) {
	src := repo(t, registrytest.Start(t, nil), "src") // fallback listing, which anyone can write
	s := pushSynthetic(t, src, 512)
	ctx := context.Background()
	other := s.subjects[1]
	// A layer listed as if it were a referrer.
	blob := static.NewLayer([]byte("not a manifest"), types.OCIUncompressedLayer)
	if err := remote.WriteLayer(src, blob); err != nil {
		t.Fatal(err)
	}
	bd, _ := blob.Digest()
	// A referrer of another subject, listed under the index.
	stray := s.referrers[other.DigestStr()][0]
	tag := fallbackTag(src, s.ref.DigestStr())
	d, _ := manifestOf(t, tag)
	var im v1.IndexManifest
	if err := json.Unmarshal(d.Manifest, &im); err != nil {
		t.Fatal(err)
	}
	im.Manifests = append(im.Manifests,
		v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: bd, Size: 14},
		v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mustHash(t, stray), Size: 500, ArtifactType: attach.BundleMediaType})
	raw, _ := json.Marshal(im)
	if err := remote.Put(tag, rawManifest{raw, types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}

	dst := repo(t, registrytest.Start(t, nil), "dst")
	res, err := relocate.Copy(ctx, client(), s.ref, dst)
	if err != nil {
		t.Fatalf("malformed entries made the copy fail: %v", err)
	}
	reasons := map[string]string{}
	for _, sk := range res.Skipped {
		reasons[sk.Object] = sk.Reason
		if sk.Integrity {
			t.Errorf("%s reported as an integrity failure: %s", sk.Object, sk.Reason)
		}
	}
	for obj, want := range map[string]string{
		"referrer " + bd.String() + " of " + s.ref.DigestStr(): "not a manifest",
		"referrer " + stray + " of " + s.ref.DigestStr():       "does not name " + s.ref.DigestStr() + " as its subject",
	} {
		if !strings.Contains(reasons[obj], want) {
			t.Errorf("skipped %s: reason %q, want it to mention %q (all: %v)", obj, reasons[obj], want, reasons)
		}
	}
	if len(res.Skipped) != 2 || res.Referrers.Copied != 6 {
		t.Errorf("copied %d referrers and skipped %v", res.Referrers.Copied, res.Skipped)
	}
	listed := referrerSet(t, dst, s.ref.DigestStr())
	if _, ok := listed[bd.String()]; ok {
		t.Errorf("skipped entry %s is listed at the destination", bd)
	}
	if _, ok := listed[stray]; ok {
		t.Errorf("a referrer of %s was listed under %s", other.DigestStr(), s.ref.DigestStr())
	}
}

// TestIntegrity: source content that does not match its digest is exit 1,
// named, and nothing of the entry it belongs to reaches the destination.
func TestIntegrity(t *testing.T) {
	ctx := context.Background()
	t.Run("referrer blob", func(t *testing.T) {
		var c corrupting
		src := repo(t, registrytest.Start(t, c.wrap), "src")
		s := pushSynthetic(t, src, 512)
		victim := s.referrers[s.subjects[1].DigestStr()][1]
		_, m := manifestOf(t, src.Digest(victim))
		bundle := m["layers"].([]any)[0].(map[string]any)["digest"].(string)
		c.arm(bundle)
		dst := repo(t, registrytest.Start(t, nil), "dst")
		res, err := relocate.Copy(ctx, client(), s.ref, dst)
		requireIntegrity(t, err, bundle, victim)
		if res == nil || len(res.Skipped) != 1 || !res.Skipped[0].Integrity || res.Referrers.Copied != 5 {
			t.Fatalf("result %+v", res)
		}
		if exists(t, dst.Digest(victim)) || blobExists(t, dst, bundle) {
			t.Error("part of the corrupted referrer reached the destination")
		}
		if _, ok := referrerSet(t, dst, s.subjects[1].DigestStr())[victim]; ok {
			t.Error("the corrupted referrer is listed at the destination")
		}
		// Everything else was copied: with the source repaired, a rerun
		// completes the copy.
		c.disarm()
		copyOK(t, s.ref, dst)
		checkCopy(t, s.ref, dst, true)
	})
	t.Run("referrer manifest", func(t *testing.T) {
		var c corrupting
		src := repo(t, registrytest.Start(t, c.wrap), "src")
		s := pushSynthetic(t, src, 512)
		victim := s.referrers[s.ref.DigestStr()][0]
		c.arm(victim)
		dst := repo(t, registrytest.Start(t, nil), "dst")
		_, err := relocate.Copy(ctx, client(), s.ref, dst)
		requireIntegrity(t, err, victim)
		if exists(t, dst.Digest(victim)) {
			t.Error("the corrupted referrer manifest reached the destination")
		}
	})
	t.Run("image layer", func(t *testing.T) {
		var c corrupting
		src := repo(t, registrytest.Start(t, c.wrap), "src")
		// Larger than what the client buffers and checks itself, so the
		// stream's own check finds it.
		s := pushSynthetic(t, src, 5<<20)
		img, err := remote.Image(s.subjects[2])
		if err != nil {
			t.Fatal(err)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		ld, _ := ls[1].Digest()
		c.arm(ld.String())
		dst := repo(t, registrytest.Start(t, nil), "dst")
		_, err = relocate.Copy(ctx, client(), s.ref, dst)
		requireIntegrity(t, err, ld.String())
		if exists(t, dst.Digest(s.ref.DigestStr())) || exists(t, dst.Digest(s.subjects[2].DigestStr())) || blobExists(t, dst, ld.String()) {
			t.Error("a manifest over the corrupted layer, or the layer, reached the destination")
		}
	})
}

func requireIntegrity(t *testing.T, err error, names ...string) {
	t.Helper()
	if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(fmt.Sprint(err), "content does not match its digest") {
		t.Fatalf("want an integrity failure (exit 1), got exit %d: %v", errs.ExitCode(err), err)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("the error does not name %s: %v", n, err)
		}
	}
	t.Logf("integrity failure: %v", err)
}

// TestSigned copies an image signed and attested by harden (the fixture
// build, a local Sigstore) and requires verify to pass on each copy with
// the options it passed with at the source.
func TestSigned(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.mustVerify(t, w.image.String())

	t.Run("referrers API to docker-registry and back", func(t *testing.T) {
		dist := repo(t, distribution(t), "signed")
		res := copyOK(t, w.image, dist)
		if res.ReferrersStorage != "fallback-tag" {
			t.Errorf("docker-registry reported as %q", res.ReferrersStorage)
		}
		checkCopy(t, w.image, dist, true)
		w.mustVerify(t, res.Image)
		requireNothingNew(t, copyOK(t, w.image, dist))

		from := dist.Digest(w.image.DigestStr())
		back := repo(t, registrytest.StartReferrers(t), "back")
		res = copyOK(t, from, back)
		if res.ReferrersStorage != "api" {
			t.Errorf("in-process registry reported as %q", res.ReferrersStorage)
		}
		checkCopy(t, from, back, false)
		w.mustVerify(t, res.Image)
	})

	t.Run("export and import", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "export")
		if _, err := export.Export(ctx, w.rc, w.image, dir); err != nil {
			t.Fatal(err)
		}
		reg := registrytest.Start(t, nil)
		dst := repo(t, reg, "imported")
		res, err := relocate.Import(ctx, client(), dir, dst)
		if err != nil {
			t.Fatal(err)
		}
		if res.Source != w.image.String() || res.Layout != dir || !res.ReadBack || res.Referrers.Copied == 0 || res.LegacyTags.Copied == 0 {
			t.Fatalf("import result %+v", res)
		}
		out, _ := json.Marshal(res)
		// The original reference and the destination are fine; the
		// registry the layout is read through is not.
		if a := foreignAddrs(string(out), reg, w.image.RegistryStr()); len(a) > 0 {
			t.Errorf("the import result shows internal addresses %v: %s", a, out)
		}
		checkCopy(t, w.image, dst, true)
		w.mustVerify(t, res.Image)
		res, err = relocate.Import(ctx, client(), dir, dst)
		if err != nil {
			t.Fatal(err)
		}
		requireNothingNew(t, res)

		// A corrupted layout: the failure names the layout, not the
		// registry it is read through.
		bad := filepath.Join(t.TempDir(), "bad")
		if err := os.CopyFS(bad, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		victim := corruptBundle(t, bad)
		// A registry of its own: one that had the blob would not need it.
		reg2 := registrytest.Start(t, nil)
		dst2 := repo(t, reg2, "imported-bad")
		res, err = relocate.Import(ctx, client(), bad, dst2)
		requireIntegrity(t, err, victim, bad)
		if a := foreignAddrs(err.Error(), reg2, w.image.RegistryStr()); len(a) > 0 {
			t.Errorf("the error shows internal addresses %v: %v", a, err)
		}
		out, _ = json.Marshal(res)
		if a := foreignAddrs(string(out), reg2, w.image.RegistryStr()); len(a) > 0 {
			t.Errorf("the error shows internal addresses %v: %v", a, err)
		}
		_, err = relocate.Import(ctx, client(), filepath.Join(t.TempDir(), "none"), dst2)
		if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "harden export") {
			t.Errorf("missing layout: exit %d, %v", errs.ExitCode(err), err)
		}
	})

	t.Run("interrupted copy resumes", func(t *testing.T) {
		seed := uint64(time.Now().UnixNano())
		if s := os.Getenv("HARDEN_TEST_SEED"); s != "" {
			var err error
			if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("seed %d (rerun with HARDEN_TEST_SEED=%d)", seed, seed)
		rng := rand.New(rand.NewPCG(seed, 0))

		// How many requests a whole copy makes, to place faults inside it.
		var total atomic.Int64
		count := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { total.Add(1); next.ServeHTTP(w, r) })
		}
		copyOK(t, w.image, repo(t, registrytest.Start(t, count), "measure"))
		kinds := []faultreg.Kind{faultreg.Status500, faultreg.Status502, faultreg.Status503, faultreg.TooManyRequests, faultreg.Reset}
		for round := range 3 {
			at := rng.IntN(int(total.Load()))
			kind := kinds[rng.IntN(len(kinds))]
			var cut cutoff
			var fr *faultreg.Handler
			reg := registrytest.Start(t, func(h http.Handler) http.Handler {
				fr = faultreg.New(h, time.Second)
				return cut.wrap(fr)
			})
			dst := repo(t, reg, fmt.Sprintf("interrupted-%d", round))
			fr.Arm(faultreg.Fault{At: at, Kind: kind})
			ictx, cancel := context.WithCancel(ctx)
			cut.arm(at, cancel)
			_, err := relocate.Copy(ictx, client(), w.image, dst)
			cancel()
			fired, n := fr.Disarm()
			cut.disarm()
			t.Logf("round %d: %s at request %d of %d: fired %q after %d requests; copy: %v", round, kind, at, total.Load(), fired, n, err)
			switch {
			case err == nil && fired != "":
				t.Fatalf("round %d: the copy succeeded although it was cut off", round)
			case err == nil:
				t.Logf("round %d: the copy made fewer requests than measured; nothing was cut off", round)
			}
			requireNothingHalfDone(t, w.image, dst)

			res := copyOK(t, w.image, dst)
			checkCopy(t, w.image, dst, true)
			w.mustVerify(t, res.Image)
			requireNothingNew(t, copyOK(t, w.image, dst))
		}
	})

	t.Run("merge with the destination's entries", func(t *testing.T) {
		dst := repo(t, registrytest.Start(t, nil), "shared")
		idx := descriptorOf(t, w.image)
		theirs := foreignReferrer(t, dst, v1.Descriptor{MediaType: idx.MediaType, Digest: idx.Digest, Size: idx.Size})
		sigTag := strings.Replace(w.image.DigestStr(), ":", "-", 1) + ".sig"
		theirSig := foreignSignature(t, w.image.Context().Tag(sigTag), dst.Tag(sigTag))
		_, before := manifestOf(t, fallbackTag(dst, w.image.DigestStr()))

		res := copyOK(t, w.image, dst)
		merged := false
		for _, o := range res.Objects {
			merged = merged || (o.Ref == sigTag && o.Status == relocate.StatusMerged)
		}
		if !merged {
			t.Errorf("%s was not reported as merged: %+v", sigTag, res.Objects)
		}
		checkCopy(t, w.image, dst, true)
		// Theirs is still there, exactly as it was listed.
		listed := referrerSet(t, dst, w.image.DigestStr())
		var was map[string]any
		for _, e := range before["manifests"].([]any) {
			if e.(map[string]any)["digest"] == theirs {
				was = e.(map[string]any)
			}
		}
		var now map[string]any
		b, _ := json.Marshal(listed[theirs])
		_ = json.Unmarshal(b, &now)
		if !reflect.DeepEqual(now, was) {
			t.Errorf("their fallback entry changed:\n got %v\nwant %v", now, was)
		}
		_, sig := manifestOf(t, dst.Tag(sigTag))
		var theirLayer map[string]any
		b, _ = json.Marshal(theirSig)
		_ = json.Unmarshal(b, &theirLayer)
		if !hasLayer(sig, theirLayer) {
			t.Errorf("their .sig entry was dropped: %v", sig["layers"])
		}
		w.mustVerify(t, res.Image)
		requireNothingNew(t, copyOK(t, w.image, dst))
	})
}

// cutoff stands for the copying process dying right after a fault: from
// the request after the armed one on, it cancels the copy and answers 503.
type cutoff struct {
	mu     sync.Mutex
	n, at  int
	cancel context.CancelFunc
}

func (c *cutoff) arm(at int, cancel context.CancelFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n, c.at, c.cancel = 0, at, cancel
}

func (c *cutoff) disarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancel = nil
}

func (c *cutoff) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		cut := c.cancel != nil && c.n > c.at
		cancel := c.cancel
		c.n++
		c.mu.Unlock()
		if cut {
			cancel()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireNothingHalfDone checks what an interrupted copy left: a manifest
// only over blobs that are there, the index only over its manifests, and
// a listing or legacy tag only of what is there.
func requireNothingHalfDone(t *testing.T, src name.Digest, dst name.Repository) {
	t.Helper()
	index := dst.Digest(src.DigestStr())
	_, sm := manifestOf(t, src)
	var subjects []string
	for _, m := range sm["manifests"].([]any) {
		subjects = append(subjects, m.(map[string]any)["digest"].(string))
	}
	if exists(t, index) {
		for _, s := range subjects {
			if !exists(t, dst.Digest(s)) {
				t.Errorf("the index is there but its manifest %s is not", s)
			}
		}
	}
	for _, s := range append(subjects, src.DigestStr()) {
		if exists(t, dst.Digest(s)) {
			_, m := manifestOf(t, dst.Digest(s))
			requireBlobs(t, dst, m)
		}
		if exists(t, fallbackTag(dst, s)) {
			if !exists(t, dst.Digest(s)) {
				t.Errorf("referrers of %s are listed before it is there", s)
			}
			for h := range referrerSet(t, dst, s) {
				if !exists(t, dst.Digest(h)) {
					t.Errorf("fallback tag of %s lists %s, which is not there", s, h)
					continue
				}
				_, m := manifestOf(t, dst.Digest(h))
				requireBlobs(t, dst, m)
			}
		}
		for _, suffix := range []string{".sig", ".att"} {
			tag := dst.Tag(strings.Replace(s, ":", "-", 1) + suffix)
			if exists(t, tag) {
				_, m := manifestOf(t, tag)
				requireBlobs(t, dst, m)
			}
		}
	}
}

func requireBlobs(t *testing.T, repo name.Repository, m map[string]any) {
	t.Helper()
	var ds []any
	if c, ok := m["config"]; ok {
		ds = append(ds, c)
	}
	ls, _ := m["layers"].([]any)
	for _, d := range append(ds, ls...) {
		h := d.(map[string]any)["digest"].(string)
		if !blobExists(t, repo, h) {
			t.Errorf("a manifest at %s refers to blob %s, which is not there", repo, h)
		}
	}
}

// corruptBundle flips a byte of one referrer's bundle in an export and
// returns the bundle's digest.
func corruptBundle(t *testing.T, dir string) string {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		if m.Annotations[export.AnnotationRole] != "referrer" {
			continue
		}
		img, err := p.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		h := mf.Layers[0].Digest
		f := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	t.Fatal("the export holds no referrer")
	return ""
}
