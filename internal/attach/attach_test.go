package attach

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci"

	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
)

func pushSubject(t *testing.T, reg string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(reg + "/org/app@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// The referrer manifest and, without a referrers API, the fallback tag
// both carry artifactType and the Sigstore annotations.
func TestPutReferrer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reg      func(*testing.T) string
		wantAPI  bool
		fallback bool
	}{
		{"referrers API", func(t *testing.T) string { return registrytest.StartReferrers(t) }, true, false},
		{"fallback tag", func(t *testing.T) string { return registrytest.Start(t, nil) }, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			reg := tc.reg(t)
			sub := pushSubject(t, reg)
			s := New(registry.New())
			api, err := s.ReferrersAPI(ctx, sub)
			if err != nil {
				t.Fatal(err)
			}
			if api != tc.wantAPI {
				t.Fatalf("ReferrersAPI = %v, want %v", api, tc.wantAPI)
			}
			created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			b1 := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","n":1}`)
			h1, err := s.PutReferrer(ctx, sub, Referrer{Bundle: b1, Content: ContentDSSE, PredicateType: "https://slsa.dev/provenance/v1", Created: created})
			if err != nil {
				t.Fatal(err)
			}
			// Same content again: same manifest digest, no second entry.
			if h, err := s.PutReferrer(ctx, sub, Referrer{Bundle: b1, Content: ContentDSSE, PredicateType: "https://slsa.dev/provenance/v1", Created: created}); err != nil || h != h1 {
				t.Fatalf("re-put: %v %v", h, err)
			}
			b2 := []byte(`{"n":2}`)
			if _, err := s.PutReferrer(ctx, sub, Referrer{Bundle: b2, Content: ContentDSSE, PredicateType: "https://spdx.dev/Document", Created: created}); err != nil {
				t.Fatal(err)
			}

			raw, err := remote.Get(sub.Context().Digest(h1.String()))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw.Manifest, &m); err != nil {
				t.Fatal(err)
			}
			if m["artifactType"] != BundleMediaType {
				t.Errorf("artifactType = %v", m["artifactType"])
			}
			cfg := m["config"].(map[string]any)
			if cfg["mediaType"] != EmptyMediaType || cfg["digest"] != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
				t.Errorf("config = %v", cfg)
			}
			if m["subject"].(map[string]any)["digest"] != sub.DigestStr() {
				t.Errorf("subject = %v", m["subject"])
			}
			ann := m["annotations"].(map[string]any)
			if ann[AnnotationContent] != ContentDSSE || ann[AnnotationPredType] != "https://slsa.dev/provenance/v1" || ann[AnnotationCreated] != "2026-01-02T03:04:05Z" {
				t.Errorf("annotations = %v", ann)
			}

			if tc.fallback {
				tag := sub.Context().Tag(strings.Replace(sub.DigestStr(), ":", "-", 1))
				d, err := remote.Get(tag)
				if err != nil {
					t.Fatalf("fallback tag %s: %v", tag, err)
				}
				var idx struct {
					Manifests []struct {
						ArtifactType string            `json:"artifactType"`
						Annotations  map[string]string `json:"annotations"`
					} `json:"manifests"`
				}
				if err := json.Unmarshal(d.Manifest, &idx); err != nil {
					t.Fatal(err)
				}
				if len(idx.Manifests) != 2 {
					t.Fatalf("fallback index has %d entries, want 2", len(idx.Manifests))
				}
				for _, e := range idx.Manifests {
					if e.ArtifactType != BundleMediaType || e.Annotations[AnnotationPredType] == "" || e.Annotations[AnnotationContent] != ContentDSSE {
						t.Errorf("fallback descriptor lacks artifactType/annotations: %+v", e)
					}
				}
			}

			f, err := s.Find(ctx, sub)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Referrers) != 2 {
				t.Fatalf("Find: %d referrers, want 2", len(f.Referrers))
			}
			got := map[string]string{}
			for _, r := range f.Referrers {
				got[r.Annotations[AnnotationPredType]] = string(r.Bundle)
			}
			if got["https://slsa.dev/provenance/v1"] != string(b1) || got["https://spdx.dev/Document"] != string(b2) {
				t.Errorf("Find bundles = %v", got)
			}
		})
	}
}

func TestPutLegacyDedupes(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, nil)
	sub := pushSubject(t, reg)
	s := New(registry.New())
	same := func(a, b oci.Signature) bool {
		pa, _ := a.Payload()
		pb, _ := b.Payload()
		return string(pa) == string(pb)
	}
	l1 := LegacyLayer{Payload: []byte(`{"critical":1}`), Signature: []byte("sig1"), Timestamp: []byte("ts")}
	l2 := LegacyLayer{Payload: []byte(`{"critical":2}`), Signature: []byte("sig2")}
	if err := s.PutLegacy(ctx, sub, false, []LegacyLayer{l1}, same); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLegacy(ctx, sub, false, []LegacyLayer{l1, l2}, same); err != nil {
		t.Fatal(err)
	}
	att := LegacyLayer{Payload: []byte(`{"payloadType":"x"}`), CertPEM: []byte("cert"), PredicateType: "https://slsa.dev/provenance/v1"}
	if err := s.PutLegacy(ctx, sub, true, []LegacyLayer{att}, same); err != nil {
		t.Fatal(err)
	}
	f, err := s.Find(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Signatures) != 2 || len(f.Attestations) != 1 || len(f.Referrers) != 0 {
		t.Fatalf("found %d sigs, %d atts, %d referrers; want 2, 1, 0", len(f.Signatures), len(f.Attestations), len(f.Referrers))
	}
	ann, err := f.Attestations[0].Annotations()
	if err != nil {
		t.Fatal(err)
	}
	if ann["predicateType"] != "https://slsa.dev/provenance/v1" || ann["dev.sigstore.cosign/certificate"] != "cert" {
		t.Errorf("attestation annotations = %v", ann)
	}
	mt, _ := f.Attestations[0].MediaType()
	if mt != "application/vnd.dsse.envelope.v1+json" {
		t.Errorf("attestation media type = %s", mt)
	}
	sa, _ := f.Signatures[0].Annotations()
	if sa["dev.cosignproject.cosign/signature"] == "" || !strings.Contains(sa["dev.sigstore.cosign/rfc3161timestamp"], "SignedRFC3161Timestamp") {
		t.Errorf("signature annotations = %v", sa)
	}
	for _, tag := range []string{".sig", ".att"} {
		if _, err := remote.Head(sub.Context().Tag(strings.Replace(sub.DigestStr(), ":", "-", 1) + tag)); err != nil {
			t.Errorf("tag %s: %v", tag, err)
		}
	}
}

// A registry that refuses the referrer manifest leaves no referrer.
func TestPutReferrerRefused(t *testing.T) {
	ctx := context.Background()
	refuse := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256:") && r.Header.Get("Content-Type") == "application/vnd.oci.image.manifest.v1+json" && r.ContentLength < 2000 {
				http.Error(w, `{"errors":[{"code":"DENIED","message":"no"}]}`, http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	reg := registrytest.Start(t, refuse)
	sub := pushSubject(t, reg)
	s := New(registry.New())
	_, err := s.PutReferrer(ctx, sub, Referrer{Bundle: []byte(`{}`), Content: ContentDSSE, Created: time.Unix(0, 0)})
	if err == nil || !strings.Contains(err.Error(), "push referrer") {
		t.Fatalf("err = %v, want a push referrer error", err)
	}
	f, err := s.Find(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Referrers) != 0 {
		t.Fatalf("%d referrers after a refused push", len(f.Referrers))
	}
}

func TestParseStorage(t *testing.T) {
	for in, want := range map[string]Storage{"": Both, "both": Both, "referrers": Referrers, "legacy": Legacy} {
		if got, err := ParseStorage(in); err != nil || got != want {
			t.Errorf("ParseStorage(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseStorage("oci"); err == nil || !strings.Contains(err.Error(), "use both, referrers or legacy") {
		t.Errorf("ParseStorage(oci) err = %v", err)
	}
	if !IsBundleMediaType("application/vnd.dev.sigstore.bundle+json;version=0.2") || !IsBundleMediaType(BundleMediaType) || IsBundleMediaType("application/json") {
		t.Error("IsBundleMediaType")
	}
}

// PutReferrers uploads every blob before the first manifest, pushes the
// manifests in the order given, looks the subject up once per store, and
// stops at the first refused push.
func TestPutReferrersInOrder(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var log []string
	refuseNth := 0 // refuse the nth referrer manifest PUT (1-based); 0 = none
	puts := 0
	reg := registrytest.Start(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			isReferrer := r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256:") && r.Header.Get("Content-Type") == "application/vnd.oci.image.manifest.v1+json" && r.ContentLength < 2000
			if isReferrer {
				puts++
				if puts == refuseNth {
					mu.Unlock()
					http.Error(w, `{"errors":[{"code":"DENIED","message":"no"}]}`, http.StatusForbidden)
					return
				}
			}
			switch {
			case isReferrer:
				log = append(log, "manifest")
			case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/"):
				log = append(log, "blob")
			case r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/sha256:"):
				log = append(log, "head "+r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
			}
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	})
	sub := pushSubject(t, reg)
	mu.Lock()
	log = nil
	mu.Unlock()
	s := New(registry.New())
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var rs []Referrer
	for i := range 3 {
		rs = append(rs, Referrer{Bundle: []byte(`{"n":` + strconv.Itoa(i) + `}`), Content: ContentDSSE, PredicateType: "https://example.com/p" + strconv.Itoa(i), Created: created})
	}
	hs, err := s.PutReferrers(ctx, sub, rs)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 {
		t.Fatalf("%d digests, want 3", len(hs))
	}
	for i, r := range rs {
		if h, err := s.PutReferrer(ctx, sub, r); err != nil || h != hs[i] {
			t.Fatalf("PutReferrer of the same referrer: %v %v, want %v", h, err, hs[i])
		}
	}
	mu.Lock()
	firstManifest, lastBlob, heads := -1, -1, 0
	for i, e := range log {
		switch {
		case e == "manifest" && firstManifest < 0:
			firstManifest = i
		case e == "blob" && firstManifest < 0:
			lastBlob = i
		case e == "head "+sub.DigestStr():
			heads++
		}
	}
	mu.Unlock()
	if lastBlob < 0 || firstManifest < lastBlob {
		t.Errorf("a manifest was pushed before every blob was: %v", log)
	}
	if heads != 1 {
		t.Errorf("the subject was looked up %d times, want once: %v", heads, log)
	}
	tag := sub.Context().Tag(strings.Replace(sub.DigestStr(), ":", "-", 1))
	d, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(d.Manifest, &idx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range idx.Manifests {
		got = append(got, m.Digest)
	}
	want := []string{hs[0].String(), hs[1].String(), hs[2].String()}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("fallback tag lists %v, want %v", got, want)
	}

	// The second of three is refused: the first is pushed, the third
	// is not tried.
	sub2 := pushSubject(t, reg)
	mu.Lock()
	puts, refuseNth = 0, 2
	mu.Unlock()
	for i := range rs {
		rs[i].Created = created.Add(time.Hour)
	}
	hs, err = s.PutReferrers(ctx, sub2, rs)
	if err == nil || !strings.Contains(err.Error(), "push referrer") || len(hs) != 1 {
		t.Fatalf("PutReferrers = %v, %v; want one digest and a push referrer error", hs, err)
	}
	f, err := s.Find(ctx, sub2)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Referrers) != 1 || f.Referrers[0].Digest != hs[0] {
		t.Fatalf("after a refused push: %d referrers", len(f.Referrers))
	}
}

// Referrers and the .sig and .att tags of one subject are written
// concurrently without losing an entry.
func TestConcurrentLayouts(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, nil)
	sub := pushSubject(t, reg)
	s := New(registry.New())
	var wg sync.WaitGroup
	errc := make(chan error, 6)
	for i := range 2 {
		n := strconv.Itoa(i)
		wg.Go(func() {
			_, err := s.PutReferrer(ctx, sub, Referrer{Bundle: []byte(`{"n":` + n + `}`), Content: ContentDSSE, Created: time.Unix(0, 0)})
			errc <- err
		})
		wg.Go(func() {
			errc <- s.PutLegacy(ctx, sub, false, []LegacyLayer{{Payload: []byte(`{"s":` + n + `}`), Signature: []byte("sig")}}, nil)
		})
		wg.Go(func() {
			errc <- s.PutLegacy(ctx, sub, true, []LegacyLayer{{Payload: []byte(`{"a":` + n + `}`), PredicateType: "https://example.com/p"}}, nil)
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := s.Find(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Referrers) != 2 || len(f.Signatures) != 2 || len(f.Attestations) != 2 {
		t.Fatalf("found %d referrers, %d sigs, %d atts; want 2 of each", len(f.Referrers), len(f.Signatures), len(f.Attestations))
	}
}

// blobCommits fronts a registry: it counts each repository's blob
// commits by digest, refuses a second commit of one digest as
// distribution 2.8 can break (see Store.uploads), and holds a blob
// lookup that misses so that concurrent writers all miss together.
type blobCommits struct {
	next http.Handler
	mu   sync.Mutex
	n    map[string]int
}

func (b *blobCommits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	repo, _, isBlob := strings.Cut(path, "/blobs/")
	if d := r.URL.Query().Get("digest"); isBlob && d != "" && (r.Method == http.MethodPut || r.Method == http.MethodPost) {
		b.mu.Lock()
		b.n[repo+"@"+d]++
		again := b.n[repo+"@"+d] > 1
		b.mu.Unlock()
		if again {
			http.Error(w, `{"errors":[{"code":"DIGEST_INVALID","message":"uploaded again"}]}`, http.StatusBadRequest)
			return
		}
	}
	if isBlob && r.Method == http.MethodHead {
		rec := httptest.NewRecorder()
		b.next.ServeHTTP(rec, r)
		if rec.Code == http.StatusNotFound {
			time.Sleep(100 * time.Millisecond)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		return
	}
	b.next.ServeHTTP(w, r)
}

// Writes to several subjects of one repository share blobs (the empty
// config of every referrer, one envelope attached to each subject); one
// store uploads each of them once, however many writes run at a time.
func TestSharedBlobsUploadedOnce(t *testing.T) {
	ctx := context.Background()
	counts := &blobCommits{n: map[string]int{}}
	reg := registrytest.Start(t, func(h http.Handler) http.Handler { counts.next = h; return counts })
	var subs []name.Digest
	for range 3 {
		subs = append(subs, pushSubject(t, reg))
	}
	s := New(registry.New())
	shared := LegacyLayer{Payload: []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`), PredicateType: "https://slsa.dev/provenance/v1"}
	var wg sync.WaitGroup
	errc := make(chan error, 2*len(subs))
	for i, sub := range subs {
		wg.Go(func() {
			_, err := s.PutReferrer(ctx, sub, Referrer{Bundle: []byte(`{"n":` + strconv.Itoa(i) + `}`), Content: ContentDSSE, Created: time.Unix(0, 0)})
			errc <- err
		})
		wg.Go(func() { errc <- s.PutLegacy(ctx, sub, true, []LegacyLayer{shared}, nil) })
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	counts.mu.Lock()
	defer counts.mu.Unlock()
	for k, n := range counts.n {
		if n != 1 {
			t.Errorf("%s committed %d times", k, n)
		}
	}
	for _, sub := range subs {
		f, err := s.Find(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Referrers) != 1 || len(f.Attestations) != 1 {
			t.Errorf("%s: %d referrers, %d attestations; want 1 and 1", sub.DigestStr(), len(f.Referrers), len(f.Attestations))
		}
	}
}
