package relocate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/registry"
)

// distribution returns the Debian docker-registry (no referrers API) the
// test environment provides, skipping with the reason when there is none
// (failing under HARDEN_REQUIRE_E2E=1).
func distribution(t *testing.T) string {
	t.Helper()
	reg := os.Getenv("HARDEN_TEST_REGISTRY")
	if reg != "" {
		return reg
	}
	const reason = "HARDEN_TEST_REGISTRY (Debian docker-registry on 127.0.0.1, no referrers API) is not set"
	if os.Getenv("HARDEN_REQUIRE_E2E") == "1" {
		t.Fatalf("end-to-end prerequisite missing (HARDEN_REQUIRE_E2E=1): %s", reason)
	}
	t.Skip("skipping: " + reason + " (run `make registry` and set it to 127.0.0.1:5000)")
	return ""
}

// repo names a fresh repository on reg: the docker-registry outlives test
// runs, so each run writes to new names.
func repo(t *testing.T, reg, path string) name.Repository {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	r, err := name.NewRepository(reg + "/relocate/" + path + "-" + hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func client() *registry.Client { return registry.New() }

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func fallbackTag(repo name.Repository, subject string) name.Tag {
	return repo.Tag(strings.Replace(subject, ":", "-", 1))
}

// synthetic is a small index with referrers and legacy tags on the index
// and on each of its manifests; the bundles are not real signatures.
type synthetic struct {
	ref       name.Digest
	subjects  []name.Digest
	referrers map[string][]string // subject -> referrer digests
}

// pushSynthetic writes a random index of two images (layers of
// layerSize bytes) to repo, and on each subject two referrers, one .sig
// entry and one .att entry.
func pushSynthetic(t *testing.T, repo name.Repository, layerSize int64) *synthetic {
	t.Helper()
	ctx := context.Background()
	idx, err := random.Index(layerSize, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s := &synthetic{ref: repo.Digest(d.String()), referrers: map[string][]string{}}
	if err := remote.WriteIndex(s.ref, idx); err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	s.subjects = []name.Digest{s.ref}
	for _, m := range im.Manifests {
		s.subjects = append(s.subjects, repo.Digest(m.Digest.String()))
	}
	store := attach.New(client())
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, sub := range s.subjects {
		for i, pt := range []string{"https://slsa.dev/provenance/v1", "https://spdx.dev/Document"} {
			b := fmt.Sprintf(`{"mediaType":%q,"subject":%q,"n":%d}`, attach.BundleMediaType, sub.DigestStr(), i)
			h, err := store.PutReferrer(ctx, sub, attach.Referrer{Bundle: []byte(b), Content: attach.ContentDSSE, PredicateType: pt, Created: created})
			if err != nil {
				t.Fatal(err)
			}
			s.referrers[sub.DigestStr()] = append(s.referrers[sub.DigestStr()], h.String())
		}
		payload := fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, repo.String(), sub.DigestStr())
		sig := attach.LegacyLayer{Payload: []byte(payload), Signature: []byte("signature by the source"), CertPEM: []byte("-----BEGIN CERTIFICATE-----\nsource\n-----END CERTIFICATE-----\n")}
		if err := store.PutLegacy(ctx, sub, false, []attach.LegacyLayer{sig}, nil); err != nil {
			t.Fatal(err)
		}
		env := fmt.Sprintf(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"%s"}]}`, sub.DigestStr())
		att := attach.LegacyLayer{Payload: []byte(env), PredicateType: "https://slsa.dev/provenance/v1"}
		if err := store.PutLegacy(ctx, sub, true, []attach.LegacyLayer{att}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// manifestOf reads a manifest or index at ref.
func manifestOf(t *testing.T, ref name.Reference) (*remote.Descriptor, map[string]any) {
	t.Helper()
	d, err := remote.Get(ref)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	var m map[string]any
	if err := json.Unmarshal(d.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	return d, m
}

// exists reports whether ref (a manifest by digest or tag) is at its
// registry.
func exists(t *testing.T, ref name.Reference) bool {
	t.Helper()
	_, err := remote.Head(ref)
	if registry.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatalf("head %s: %v", ref, err)
	}
	return true
}

func blobExists(t *testing.T, repo name.Repository, h string) bool {
	t.Helper()
	l, err := remote.Layer(repo.Digest(h))
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Size()
	if registry.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatalf("head blob %s: %v", h, err)
	}
	return true
}

// referrerSet lists the referrers of subject at repo by digest.
func referrerSet(t *testing.T, repo name.Repository, subject string) map[string]v1.Descriptor {
	t.Helper()
	idx, err := remote.Referrers(repo.Digest(subject))
	if err != nil {
		t.Fatalf("referrers of %s at %s: %v", subject, repo, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Descriptor{}
	for _, d := range im.Manifests {
		out[d.Digest.String()] = d
	}
	return out
}

// checkCopy proves that dst holds the image of src with the same digests:
// the index and its manifests, every referrer of each subject (listed),
// and legacy tags that hold every entry of the source's. With fallback
// set it also requires dst's fallback index descriptors to carry
// artifactType and the annotations of the manifests they list.
func checkCopy(t *testing.T, src name.Digest, dst name.Repository, fallback bool) {
	t.Helper()
	sd, sm := manifestOf(t, src)
	dd, _ := manifestOf(t, dst.Digest(src.DigestStr()))
	if !bytes.Equal(sd.Manifest, dd.Manifest) || dd.Digest != sd.Digest {
		t.Fatalf("index at %s is %s, want %s", dst, dd.Digest, sd.Digest)
	}
	subjects := []string{src.DigestStr()}
	if ms, ok := sm["manifests"].([]any); ok {
		for _, m := range ms {
			subjects = append(subjects, m.(map[string]any)["digest"].(string))
		}
	}
	for _, sub := range subjects {
		if d, _ := manifestOf(t, dst.Digest(sub)); d.Digest.String() != sub {
			t.Errorf("manifest %s reads back as %s", sub, d.Digest)
		}
		want := referrerSet(t, src.Context(), sub)
		got := referrerSet(t, dst, sub)
		for h := range want {
			if _, ok := got[h]; !ok {
				t.Errorf("referrer %s of %s is not listed at %s", h, sub, dst)
				continue
			}
			if d, _ := manifestOf(t, dst.Digest(h)); d.Digest.String() != h {
				t.Errorf("referrer %s reads back as %s", h, d.Digest)
			}
		}
		if len(want) == 0 {
			t.Errorf("the source lists no referrers of %s; the test image should have some", sub)
		}
		if fallback {
			checkFallback(t, dst, sub, want)
		} else if exists(t, fallbackTag(dst, sub)) {
			t.Errorf("%s has the referrers API, yet a fallback tag %s was written", dst, fallbackTag(dst, sub))
		}
		for _, suffix := range []string{".sig", ".att"} {
			tag := strings.Replace(sub, ":", "-", 1) + suffix
			if !exists(t, src.Context().Tag(tag)) {
				t.Errorf("the source has no %s; the test image should", tag)
				continue
			}
			_, sm := manifestOf(t, src.Context().Tag(tag))
			_, dm := manifestOf(t, dst.Tag(tag))
			for _, l := range sm["layers"].([]any) {
				if !hasLayer(dm, l.(map[string]any)) {
					t.Errorf("%s at %s lacks the source's entry %v", tag, dst, l.(map[string]any)["digest"])
				}
			}
		}
	}
}

// checkFallback requires the fallback tag of subject at dst to list every
// referrer in want with its manifest's artifactType and annotations.
func checkFallback(t *testing.T, dst name.Repository, subject string, want map[string]v1.Descriptor) {
	t.Helper()
	d, _ := manifestOf(t, fallbackTag(dst, subject))
	var im v1.IndexManifest
	if err := json.Unmarshal(d.Manifest, &im); err != nil {
		t.Fatal(err)
	}
	listed := map[string]v1.Descriptor{}
	for _, e := range im.Manifests {
		listed[e.Digest.String()] = e
	}
	for h := range want {
		e, ok := listed[h]
		if !ok {
			t.Errorf("fallback tag %s does not list %s", fallbackTag(dst, subject), h)
			continue
		}
		_, m := manifestOf(t, dst.Digest(h))
		if at, _ := m["artifactType"].(string); at == "" || e.ArtifactType != at {
			t.Errorf("fallback entry %s: artifactType %q, the manifest says %q", h, e.ArtifactType, at)
		}
		ann, _ := m["annotations"].(map[string]any)
		if len(ann) == 0 {
			t.Errorf("referrer %s has no annotations; the test expects Sigstore's", h)
		}
		for k, v := range ann {
			if e.Annotations[k] != v {
				t.Errorf("fallback entry %s: annotation %s = %q, the manifest says %q", h, k, e.Annotations[k], v)
			}
		}
		if e.Annotations[attach.AnnotationContent] == "" {
			t.Errorf("fallback entry %s lacks %s", h, attach.AnnotationContent)
		}
	}
}

func hasLayer(m map[string]any, l map[string]any) bool {
	ls, _ := m["layers"].([]any)
	want, _ := json.Marshal(l)
	for _, x := range ls {
		got, _ := json.Marshal(x)
		if bytes.Equal(got, want) {
			return true
		}
	}
	return false
}

// foreignReferrer writes someone else's referrer of subject to repo (the
// subject need not be there yet) and returns its digest.
func foreignReferrer(t *testing.T, repo name.Repository, subject v1.Descriptor) string {
	t.Helper()
	cfg := static.NewLayer([]byte("{}"), attach.EmptyMediaType)
	layer := static.NewLayer([]byte(`{"someone":"else"}`), "application/vnd.example.report+json")
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(l v1.Layer, mt types.MediaType) v1.Descriptor {
		d, _ := l.Digest()
		n, _ := l.Size()
		return v1.Descriptor{MediaType: mt, Digest: d, Size: n}
	}
	m := map[string]any{
		"schemaVersion": 2, "mediaType": types.OCIManifestSchema1, "artifactType": "application/vnd.example.report",
		"config": desc(cfg, attach.EmptyMediaType), "layers": []v1.Descriptor{desc(layer, "application/vnd.example.report+json")},
		"subject":     v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		"annotations": map[string]string{"com.example.owner": "someone else"},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw, types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	return h.String()
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// foreignSignature writes a legacy tag at dst holding one entry of
// someone else: the same payload blob as the source's first entry (cosign
// payloads are the same for every signer of an image) with another
// signature. It returns that entry's descriptor.
func foreignSignature(t *testing.T, src, dst name.Tag) v1.Descriptor {
	t.Helper()
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	first := m.Layers[0]
	l, err := remote.Layer(src.Context().Digest(first.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{"dev.cosignproject.cosign/signature": "c29tZW9uZSBlbHNl"}
	base := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	mine, err := mutate.Append(base, mutate.Addendum{Layer: l, MediaType: first.MediaType, Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, mine); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: first.MediaType, Digest: first.Digest, Size: first.Size, Annotations: ann}
}

// corrupting wraps a registry handler and flips a byte of every GET of a
// path ending in one of the armed suffixes (a blob or manifest digest).
type corrupting struct {
	mu    sync.Mutex
	armed map[string]bool
	hits  int
}

func (c *corrupting) arm(digest string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == nil {
		c.armed = map[string]bool{}
	}
	c.armed[digest] = true
}

func (c *corrupting) disarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = nil
}

func (c *corrupting) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		hit := false
		if r.Method == http.MethodGet {
			for d := range c.armed {
				if strings.HasSuffix(r.URL.Path, "/"+d) {
					hit = true
					c.hits++
				}
			}
		}
		c.mu.Unlock()
		if !hit {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := bytes.Clone(rec.Body.Bytes())
		if len(body) > 0 {
			body[len(body)/2] ^= 0xff
		}
		for k, v := range rec.Result().Header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

var loopbackAddr = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// foreignAddrs lists loopback host:ports in s other than the allowed ones.
func foreignAddrs(s string, allowed ...string) []string {
	var out []string
	for _, a := range loopbackAddr.FindAllString(s, -1) {
		ok := false
		for _, w := range allowed {
			ok = ok || a == w
		}
		if !ok {
			out = append(out, a)
		}
	}
	return out
}
