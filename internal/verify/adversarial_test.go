package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/export"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/relocate"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/verify"
)

// hostile sits in front of a registry like a registry (or proxy) run by
// an attacker: per repository path, it rewrites what is served. Attacks
// that only need push rights are made by pushing instead.
type hostile struct {
	next  http.Handler
	mu    sync.Mutex
	rules []*rule
}

// rule rewrites the responses to GETs whose path matches.
type rule struct {
	match  func(path string) bool
	edit   func(body []byte) []byte
	times  int // 0: every time
	served int
}

func (h *hostile) add(r *rule) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rules = append(h.rules, r)
}

func (h *hostile) served(ru *rule) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return ru.served
}

func (h *hostile) find(r *http.Request) *rule {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Method != http.MethodGet {
		return nil
	}
	for _, ru := range h.rules {
		if ru.match(r.URL.Path) && (ru.times == 0 || ru.served < ru.times) {
			ru.served++
			return ru
		}
	}
	return nil
}

func (h *hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ru := h.find(r)
	if ru == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	body := ru.edit(rec.Body.Bytes())
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// flip changes one byte in the middle of a body.
func flip(b []byte) []byte {
	out := bytes.Clone(b)
	if len(out) > 0 {
		out[len(out)/2] ^= 0x20
	}
	return out
}

// adversary is the shared setup: a genuine release (both layouts) on a
// registry with the referrers API behind a hostile proxy, copied per case
// to a repository of its own there or on Debian's docker-registry.
type adversary struct {
	*world
	h       *hostile
	genuine name.Digest
	subs    []name.Digest // genuine index, then platforms
	dist    string        // docker-registry host:port, or a fallback-only in-process one
	n       int
	base    *verify.Report // the genuine release's report
	other   struct {
		once sync.Once
		subs []name.Digest
	}
}

func newAdversary(t *testing.T) *adversary {
	t.Helper()
	h := &hostile{}
	reg := registrytest.StartReferrersBehind(t, func(next http.Handler) http.Handler { h.next = next; return h })
	w := newWorldOn(t, reg)
	rel, subs := w.copyImage(t, nil)
	w.release(t, rel, subs, attach.Both, nil)
	a := &adversary{world: w, h: h, genuine: mustDigest(t, rel.Image), subs: subs}
	a.dist = os.Getenv("HARDEN_TEST_REGISTRY")
	if a.dist == "" {
		if os.Getenv("HARDEN_REQUIRE_E2E") == "1" {
			t.Fatal("HARDEN_TEST_REGISTRY (Debian docker-registry on 127.0.0.1) is not set")
		}
		t.Log("HARDEN_TEST_REGISTRY is not set: the fallback-tag cases use go-containerregistry's registry without the referrers API instead of Debian's docker-registry")
		a.dist = registrytest.Start(t, nil)
	}
	return a
}

// place copies the genuine release, with everything attached, to a new
// repository on the referrers registry ("api") or docker-registry
// ("fallback") and returns the index and platform references there.
func (a *adversary) place(t *testing.T, where string) (name.Digest, []name.Digest) {
	t.Helper()
	a.n++
	repo := a.genuine.Context().Registry.Repo(fmt.Sprintf("adv/case-%d", a.n))
	if where == "fallback" {
		var err error
		if repo, err = name.NewRepository(fmt.Sprintf("%s/adv/%d-case-%d", a.dist, time.Now().UnixNano(), a.n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := relocate.Copy(context.Background(), a.res.Client, a.genuine, repo); err != nil {
		t.Fatalf("copy the genuine release to %s: %v", repo, err)
	}
	var subs []name.Digest
	for _, s := range a.subs {
		subs = append(subs, repo.Digest(s.DigestStr()))
	}
	return subs[0], subs
}

// under matches the paths of one repository.
func under(repo name.Repository, pred func(rest string) bool) func(string) bool {
	prefix := "/v2/" + repo.RepositoryStr() + "/"
	return func(p string) bool { return strings.HasPrefix(p, prefix) && pred(strings.TrimPrefix(p, prefix)) }
}

// outcome is what a case expects.
type outcome struct {
	exit   int    // 0, 1, 2 or 3
	check  string // the failing check (exit 1)
	reason string // in that check's reason, or in the error
}

func exitOf(rep *verify.Report, err error) int {
	if err != nil {
		return errs.ExitCode(err)
	}
	return errs.ExitCode(rep.Err())
}

func (o outcome) assert(t *testing.T, rep *verify.Report, err error) {
	t.Helper()
	if got := exitOf(rep, err); got != o.exit {
		t.Fatalf("exit %d, want %d; err %v; failed %s", got, o.exit, err, failedReasons(rep))
	}
	if err != nil {
		if !strings.Contains(err.Error(), o.reason) {
			t.Fatalf("error %q does not say %q", err, o.reason)
		}
		return
	}
	if o.exit == 0 {
		return
	}
	for _, c := range rep.Failed() {
		if c.Name == o.check && strings.Contains(c.Reason, o.reason) {
			return
		}
	}
	t.Fatalf("want failed check %s saying %q; failed: %s", o.check, o.reason, failedReasons(rep))
}

func failedReasons(rep *verify.Report) string {
	if rep == nil {
		return "(no report)"
	}
	var b strings.Builder
	for _, c := range rep.Failed() {
		fmt.Fprintf(&b, "\n  %s: %s", c.Name, c.Reason)
	}
	// What was left out explains a genuine entry that went missing.
	for _, ig := range rep.Ignored {
		fmt.Fprintf(&b, "\n  ignored %s %s %s: %s", ig.Layout, ig.Subject, ig.Entry, ig.Reason)
	}
	return b.String()
}

// genuineEvaluated proves the genuine entries were still verified: the
// signature of every manifest and the provenance were found and valid.
func genuineEvaluated(t *testing.T, rep *verify.Report) {
	t.Helper()
	if rep == nil {
		t.Fatal("no report")
	}
	sigs, prov := 0, false
	for _, c := range rep.Checks {
		switch {
		case c.Name == "signature" && c.Passed:
			sigs++
		case c.Name == "provenance" && c.Passed:
			prov = true
		}
	}
	if sigs == 0 || !prov {
		t.Fatalf("the genuine signatures and provenance were not evaluated (%d signature checks passed, provenance %v): %s", sigs, prov, failedReasons(rep))
	}
}

// checkNames is the sorted set of check names of a report.
func checkNames(rep *verify.Report) []string {
	var out []string
	for _, c := range rep.Checks {
		if !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out
}

// verdict is a report reduced to what must not change under relabelling
// and reordering: every check's result, reason and signer (storage's
// reason counts the entries found, which an added entry changes).
func verdict(rep *verify.Report) string {
	var b strings.Builder
	for _, c := range rep.Checks {
		reason := c.Reason
		if c.Name == "storage" {
			reason = ""
		}
		fmt.Fprintf(&b, "%s %s %v %s %s\n", c.Name, c.Subject, c.Passed, reason, c.Signer)
	}
	return b.String()
}

func (a *adversary) verifyRef(t *testing.T, ref name.Digest, mod func(*verify.Options)) (*verify.Report, error) {
	t.Helper()
	return a.verify(t, ref.String(), mod)
}

func noDefaultPolicy(o *verify.Options) { o.NoDefaultPolicy = true }

func ignoreTlog(o *verify.Options) { o.InsecureIgnoreTlog = true }

// pushRaw pushes a manifest as it is.
func pushRaw(t *testing.T, ref name.Reference, mt types.MediaType, raw []byte) {
	t.Helper()
	if err := remote.Put(ref, rawDoc{raw: raw, mt: mt}); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

type rawDoc struct {
	raw []byte
	mt  types.MediaType
}

func (r rawDoc) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawDoc) MediaType() (types.MediaType, error) { return r.mt, nil }

// pushReferrer pushes an attacker's referrer of subject: the given layers
// (blobs uploaded as given) in an OCI manifest with the bundle
// artifactType.
func pushReferrer(t *testing.T, subject name.Digest, layers []v1.Layer, edit func(m map[string]any)) v1.Hash {
	t.Helper()
	desc, err := remote.Head(subject)
	if err != nil {
		t.Fatal(err)
	}
	cfg := static.NewLayer([]byte("{}"), attach.EmptyMediaType)
	ls := []any{}
	for _, l := range append([]v1.Layer{cfg}, layers...) {
		if err := remote.WriteLayer(subject.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range layers {
		d, _ := l.Digest()
		n, _ := l.Size()
		mt, _ := l.MediaType()
		ls = append(ls, map[string]any{"mediaType": mt, "digest": d.String(), "size": n})
	}
	cd, _ := cfg.Digest()
	m := map[string]any{
		"schemaVersion": 2, "mediaType": types.OCIManifestSchema1, "artifactType": attach.BundleMediaType,
		"config":  map[string]any{"mediaType": attach.EmptyMediaType, "digest": cd.String(), "size": 2},
		"layers":  ls,
		"subject": map[string]any{"mediaType": desc.MediaType, "digest": desc.Digest.String(), "size": desc.Size},
		"annotations": map[string]string{
			attach.AnnotationContent: attach.ContentDSSE, attach.AnnotationPredType: verify.SLSAPredicateType,
		},
	}
	if edit != nil {
		edit(m)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	pushRaw(t, subject.Context().Digest(h.String()), types.OCIManifestSchema1, raw)
	return h
}

func bundleLayer(b []byte) v1.Layer { return static.NewLayer(b, attach.BundleMediaType) }

// referrerBundles returns the genuine bundles attached to subject, by
// the predicate type of their verified content.
func (a *adversary) genuineBundle(t *testing.T, subject name.Digest, predicateType string) []byte {
	t.Helper()
	f, err := attach.New(a.res.Client).Find(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Referrers {
		var m map[string]any
		if json.Unmarshal(r.Bundle, &m) != nil {
			continue
		}
		env, _ := m["dsseEnvelope"].(map[string]any)
		p, _ := env["payload"].(string)
		if strings.Contains(decodeB64(p), `"predicateType":"`+predicateType+`"`) {
			return r.Bundle
		}
	}
	t.Fatalf("no genuine %s bundle on %s", predicateType, subject)
	return nil
}

// editFallback rewrites the sha256-<hex> fallback index of subject on a
// registry without the referrers API, as a user with push rights can.
func editFallback(t *testing.T, subject name.Digest, edit func(ms []any) []any) {
	t.Helper()
	tag := subject.Context().Tag(strings.Replace(subject.DigestStr(), ":", "-", 1))
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	ms, _ := m["manifests"].([]any)
	m["manifests"] = edit(ms)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	pushRaw(t, tag, types.OCIImageIndex, out)
}

// relabel gives every referrer descriptor a misleading artifactType and
// annotations: what the list says must not decide anything.
func relabel(ms []any) []any {
	lies := []string{verify.SLSAPredicateType, verify.SPDXPredicateType, "https://example.test/nothing"}
	for i, d := range ms {
		dm := d.(map[string]any)
		dm["artifactType"] = []string{"application/vnd.example.other", attach.BundleMediaType, "application/vnd.oci.empty.v1+json"}[i%3]
		dm["annotations"] = map[string]string{attach.AnnotationPredType: lies[i%3], attach.AnnotationContent: attach.ContentMessage}
		dm["size"] = 1 + i // sizes too
	}
	return ms
}

func reverse(ms []any) []any {
	slices.Reverse(ms)
	return ms
}

// editLegacy rewrites subject's cosign .sig or .att image with edit.
func editLegacy(t *testing.T, subject name.Digest, suffix string, edit func(v1.Image) v1.Image) {
	t.Helper()
	tag := subject.Context().Tag(strings.Replace(subject.DigestStr(), ":", "-", 1) + suffix)
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, edit(img)); err != nil {
		t.Fatal(err)
	}
}

// withLayer appends a layer to a cosign image, with annotations.
func withLayer(l v1.Layer, ann map[string]string) func(v1.Image) v1.Image {
	return func(img v1.Image) v1.Image {
		out, err := mutate.Append(img, mutate.Addendum{Layer: l, Annotations: ann})
		if err != nil {
			panic(err)
		}
		return out
	}
}

// TestAdversarialRegistry: what an attacker with push rights to the
// repository, or a registry in the path, can do to verification. Each
// case asserts the exit code, the failing check, and that the genuine
// entries were still evaluated.
func TestAdversarialRegistry(t *testing.T) {
	a := newAdversary(t)
	ctx := context.Background()
	base, err := a.verifyRef(t, a.genuine, nil)
	if err != nil || !base.Verified {
		t.Fatalf("the genuine release does not verify: %v %s", err, failedReasons(base))
	}
	a.base = base

	// Class 1: a platform manifest named by its own digest gets every
	// check a platform of the index gets.
	t.Run("platform digest", func(t *testing.T) {
		cases := []struct {
			name  string
			setup func(t *testing.T, idx name.Digest, subs []name.Digest)
			mod   func(*verify.Options)
			want  outcome
		}{
			{"genuine passes with the same rows as the index", nil, nil, outcome{exit: 0}},
			{"no SBOM fails even without the default policy", func(t *testing.T, idx name.Digest, subs []name.Digest) {
				// The attacker drops the SBOMs: referrers through the
				// proxy, the legacy .att image by rewriting it.
				for _, s := range subs[1:] {
					a.dropSBOMReferrers(t, s)
					editLegacy(t, s, ".att", keepLayers(func(ann map[string]string) bool { return ann["predicateType"] == verify.SLSAPredicateType }))
				}
			}, noDefaultPolicy, outcome{exit: 1, check: "sbom", reason: "no signed SPDX or CycloneDX SBOM"}},
			{"unknown platform is an input error", nil, func(o *verify.Options) { o.Platforms = []string{"linux/s390x"} }, outcome{exit: 2, reason: "--platform linux/s390x"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				idx, subs := a.place(t, "api")
				if tc.setup != nil {
					tc.setup(t, idx, subs)
				}
				rep, err := a.verifyRef(t, subs[1], tc.mod)
				tc.want.assert(t, rep, err)
				if err != nil {
					return
				}
				genuineEvaluated(t, rep)
				full, err := a.verifyRef(t, idx, tc.mod)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := checkNames(rep), checkNames(full); !slices.Equal(got, want) {
					t.Errorf("platform digest rows %v, index rows %v", got, want)
				}
				if rep.Verified != full.Verified {
					t.Errorf("platform verified %v, index verified %v", rep.Verified, full.Verified)
				}
			})
		}
	})

	// Class 2: the referrer list, annotations, artifactType, sizes and tag
	// names help find entries and decide nothing.
	t.Run("unsigned metadata", func(t *testing.T) {
		cases := []struct {
			name  string
			where string
			setup func(t *testing.T, idx name.Digest, subs []name.Digest)
		}{
			{"fallback list relabelled", "fallback", func(t *testing.T, _ name.Digest, subs []name.Digest) {
				for _, s := range subs {
					editFallback(t, s, relabel)
				}
			}},
			{"fallback list reordered", "fallback", func(t *testing.T, _ name.Digest, subs []name.Digest) {
				for _, s := range subs {
					editFallback(t, s, reverse)
				}
			}},
			{"referrers API answer relabelled and reordered by the proxy", "api", func(t *testing.T, _ name.Digest, subs []name.Digest) {
				for _, s := range subs {
					a.editReferrers(s, func(ms []any) []any { return reverse(relabel(ms)) })
				}
			}},
			{"legacy layer annotations relabelled", "api", func(t *testing.T, _ name.Digest, subs []name.Digest) {
				for _, s := range subs {
					editLegacy(t, s, ".att", relabelLegacy)
				}
			}},
			{"an SBOM bundle pushed as if it were provenance", "api", func(t *testing.T, _ name.Digest, subs []name.Digest) {
				b := a.genuineBundle(t, a.subs[1], verify.CycloneDXPredicateType)
				pushReferrer(t, subs[0], []v1.Layer{bundleLayer(b)}, nil)
			}},
			{"another image's genuine provenance replayed here", "api", func(t *testing.T, _ name.Digest, subs []name.Digest) {
				osubs := a.otherImage(t)
				b := a.genuineBundle(t, osubs[0], verify.SLSAPredicateType)
				pushReferrer(t, subs[0], []v1.Layer{bundleLayer(b)}, nil)
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				idx, subs := a.place(t, tc.where)
				before, err := a.verifyRef(t, idx, nil)
				if err != nil {
					t.Fatal(err)
				}
				tc.setup(t, idx, subs)
				after, err := a.verifyRef(t, idx, nil)
				outcome{exit: exitOf(before, nil)}.assert(t, after, err)
				genuineEvaluated(t, after)
				if verdict(before) != verdict(after) {
					t.Errorf("the verdict changed:\nbefore:\n%s\nafter:\n%s", verdict(before), verdict(after))
				}
			})
		}
	})

	// Class 3: several valid candidates. A requirement holds when any
	// candidate by an allowed signer satisfies it; candidates are tried
	// newest first, so the registry's order changes nothing.
	t.Run("several candidates", func(t *testing.T) {
		ci := a.signerFor(t, "ci@example.com")
		altBuilder := "https://example.test/other-builder"
		idx, subs := a.place(t, "fallback")
		a.attachWith(t, ci, subs, func(pt string, st map[string]any) {
			if pt == verify.SLSAPredicateType {
				st["predicate"].(map[string]any)["runDetails"].(map[string]any)["builder"].(map[string]any)["id"] = altBuilder
			}
		})
		either := func(o *verify.Options) {
			o.Identity = verify.Identity{SubjectRegexp: verify.Anchor(`(release|ci)@example\.com`), Issuer: a.st.Issuer.URL()}
		}
		cases := []struct {
			name   string
			mod    func(*verify.Options)
			want   outcome
			signer string
			cands  int
		}{
			{"either signer, any builder", either, outcome{exit: 0}, "ci@example.com", 2},
			{"either signer, the release builder", func(o *verify.Options) { either(o); o.BuilderID = a.builderID(t) }, outcome{exit: 0}, email, 2},
			{"either signer, the other builder", func(o *verify.Options) { either(o); o.BuilderID = altBuilder }, outcome{exit: 0}, "ci@example.com", 2},
			{"release signer only, the other builder", func(o *verify.Options) { o.BuilderID = altBuilder }, outcome{exit: 1, check: "provenance", reason: "built by"}, "", 1},
			{"either signer, a third builder", func(o *verify.Options) { either(o); o.BuilderID = "https://example.test/nobody" },
				outcome{exit: 1, check: "provenance", reason: "none of the 2 signed SLSA provenance statements is acceptable"}, "", 2},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rep, err := a.verifyRef(t, idx, tc.mod)
				tc.want.assert(t, rep, err)
				var prov verify.Check
				for _, c := range rep.Checks {
					if c.Name == "provenance" {
						prov = c
					}
				}
				if len(prov.Candidates) != tc.cands {
					t.Errorf("provenance shows %d candidates, want %d: %+v", len(prov.Candidates), tc.cands, prov.Candidates)
				}
				if tc.signer != "" && !strings.HasPrefix(prov.Signer, tc.signer) {
					t.Errorf("provenance relied on %q, want %s", prov.Signer, tc.signer)
				}
				if tc.signer != "" && !strings.Contains(prov.Reason, "signed by "+tc.signer) {
					t.Errorf("the PASS does not name its signer: %s", prov.Reason)
				}
				// The registry's order does not matter.
				for _, s := range subs {
					editFallback(t, s, reverse)
				}
				again, err := a.verifyRef(t, idx, tc.mod)
				if err != nil || verdict(again) != verdict(rep) {
					t.Errorf("the verdict depends on the listing order:\n%s\nvs\n%s", verdict(rep), verdict(again))
				}
			})
		}
		t.Run("a disagreeing SBOM by an allowed signer is not outvoted", func(t *testing.T) {
			idx, subs := a.place(t, "api")
			a.attachWith(t, ci, subs, dropPackage("pgcli"))
			rep, err := a.verifyRef(t, idx, either)
			outcome{exit: 1, check: "sbom", reason: "missing from the SBOM: pgcli=="}.assert(t, rep, err)
			genuineEvaluated(t, rep)
		})
	})

	// Class 4: one bad entry is reported and skipped; the rest verify.
	t.Run("malformed entries", func(t *testing.T) {
		big := static.NewLayer(bytes.Repeat([]byte("x"), 1024), attach.BundleMediaType)
		cases := []struct {
			name   string
			where  string
			setup  func(t *testing.T, idx name.Digest, subs []name.Digest)
			mod    func(*verify.Options)
			reason string // of the ignored entry
		}{
			{"two layers", "api", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				b := a.genuineBundle(t, a.subs[0], verify.SLSAPredicateType)
				pushReferrer(t, idx, []v1.Layer{bundleLayer(b), bundleLayer([]byte("{}"))}, nil)
			}, nil, "2 layers"},
			{"no layer", "fallback", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				pushReferrer(t, idx, nil, nil)
			}, nil, "0 layers"},
			{"a layer claiming to be oversized", "api", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				pushReferrer(t, idx, []v1.Layer{big}, func(m map[string]any) {
					m["layers"].([]any)[0].(map[string]any)["size"] = attach.MaxBundle + 1
				})
			}, nil, "over the limit"},
			{"JSON that is not a bundle", "fallback", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				pushReferrer(t, idx, []v1.Layer{bundleLayer([]byte(`{"hello":"world"}`))}, nil)
			}, nil, "not a Sigstore bundle"},
			{"garbage bytes", "api", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				pushReferrer(t, idx, []v1.Layer{bundleLayer([]byte("\x00\xff garbage"))}, nil)
			}, nil, "not a Sigstore bundle"},
			{"a listed referrer that does not exist", "api", func(t *testing.T, idx name.Digest, subs []name.Digest) {
				a.editReferrers(idx, func(ms []any) []any {
					return append(ms, map[string]any{"mediaType": types.OCIManifestSchema1, "artifactType": attach.BundleMediaType,
						"digest": "sha256:" + strings.Repeat("0", 64), "size": 10})
				})
			}, nil, "not an image manifest"},
			{"a message signature", "api", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				b, err := a.signer.Message(ctx, []byte("hello"))
				if err != nil {
					t.Fatal(err)
				}
				raw, err := sign.MarshalBundle(b)
				if err != nil {
					t.Fatal(err)
				}
				pushReferrer(t, idx, []v1.Layer{bundleLayer(raw)}, nil)
			}, nil, "message signature"},
			{"an unreadable referrers list", "api", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				a.h.add(&rule{match: under(idx.Context(), func(r string) bool { return r == "referrers/"+idx.DigestStr() }),
					edit: func([]byte) []byte { return []byte(`{"schemaVersion":2,"manifests":"nope"}`) }})
			}, ignoreTlog, "referrers list"},
			{"a garbage legacy attestation layer", "api", func(t *testing.T, _ name.Digest, subs []name.Digest) {
				l := static.NewLayer([]byte("not an envelope"), types.MediaType("application/vnd.dsse.envelope.v1+json"))
				editLegacy(t, subs[0], ".att", withLayer(l, map[string]string{"predicateType": verify.SLSAPredicateType}))
			}, ignoreTlog, ""},
			{"a referrer manifest over the 4 MiB limit", "api", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				// Padding where the referrers list does not copy it (a huge
				// list would only deny the referrers layout, as documented).
				pushReferrer(t, idx, []v1.Layer{bundleLayer([]byte("{}"))}, func(m map[string]any) {
					m["config"].(map[string]any)["annotations"] = map[string]string{"padding": strings.Repeat("p", 5<<20)}
				})
			}, nil, "larger than"},
			{"more referrers than the limit", "api", func(t *testing.T, idx name.Digest, _ []name.Digest) {
				for i := range attach.MaxReferrers + 2 {
					pushReferrer(t, idx, []v1.Layer{static.NewLayer([]byte(fmt.Sprint(i)), "application/octet-stream")}, func(m map[string]any) {
						// Another tool's artifacts. go-containerregistry's
						// registry lists a referrer's config media type as its
						// artifactType, and in map order: both say junk, or the
						// genuine entries may land past the limit.
						m["artifactType"] = "application/vnd.example.junk"
						m["config"].(map[string]any)["mediaType"] = "application/vnd.example.junk"
					})
				}
			}, nil, "over the limit of"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				idx, subs := a.place(t, tc.where)
				tc.setup(t, idx, subs)
				rep, err := a.verifyRef(t, idx, tc.mod)
				if tc.reason == "" {
					// A legacy entry that fails verification is a rejected
					// candidate, not a malformed one; nothing else changes.
					outcome{exit: 0}.assert(t, rep, err)
					genuineEvaluated(t, rep)
					return
				}
				outcome{exit: 0}.assert(t, rep, err)
				genuineEvaluated(t, rep)
				found := false
				for _, ig := range rep.Ignored {
					if strings.Contains(ig.Reason, tc.reason) || strings.Contains(ig.Entry, tc.reason) {
						found = true
					}
				}
				if !found {
					t.Fatalf("no ignored entry says %q: %+v", tc.reason, rep.Ignored)
				}
			})
		}
	})

	// Class 5: bytes that do not match their digest are an integrity
	// failure (exit 1), never "unreachable" (exit 3).
	t.Run("altered content", func(t *testing.T) {
		platCfg := a.platformConfig(t)
		// With --insecure-ignore-tlog the legacy copies of an altered
		// referrer verify too, which shows the rest was still evaluated.
		cases := []struct {
			name  string
			match func(idx name.Digest, subs []name.Digest) func(string) bool
			times int
			want  outcome
			// genuine: the other entries were still evaluated
			genuine bool
		}{
			{"the index manifest", func(idx name.Digest, _ []name.Digest) func(string) bool {
				return under(idx.Context(), func(r string) bool { return r == "manifests/"+idx.DigestStr() })
			}, 0, outcome{exit: 1, check: "integrity", reason: "manifest " + a.genuine.DigestStr() + ": content does not match its digest"}, false},
			{"a platform manifest", func(idx name.Digest, subs []name.Digest) func(string) bool {
				return under(idx.Context(), func(r string) bool { return r == "manifests/"+subs[1].DigestStr() })
			}, 0, outcome{exit: 1, check: "integrity", reason: "content does not match its digest"}, false},
			{"a platform config", func(idx name.Digest, _ []name.Digest) func(string) bool {
				return under(idx.Context(), func(r string) bool { return r == "blobs/"+platCfg })
			}, 0, outcome{exit: 1, check: "integrity", reason: "blob " + platCfg + ": content does not match its digest"}, false},
			{"a provenance bundle blob", func(idx name.Digest, _ []name.Digest) func(string) bool {
				d := a.bundleBlob(t, a.subs[0], verify.SLSAPredicateType)
				return under(idx.Context(), func(r string) bool { return r == "blobs/"+d })
			}, 0, outcome{exit: 1, check: "integrity", reason: "content does not match its digest"}, true},
			{"a referrer manifest", func(idx name.Digest, _ []name.Digest) func(string) bool {
				d := a.referrerOf(t, a.subs[0], verify.SLSAPredicateType)
				return under(idx.Context(), func(r string) bool { return r == "manifests/"+d })
			}, 0, outcome{exit: 1, check: "integrity", reason: "content does not match its digest"}, true},
			{"one glitch is re-fetched", func(idx name.Digest, _ []name.Digest) func(string) bool {
				return under(idx.Context(), func(r string) bool { return r == "manifests/"+idx.DigestStr() })
			}, 1, outcome{exit: 0}, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				idx, subs := a.place(t, "api")
				ru := &rule{match: tc.match(idx, subs), edit: flip, times: tc.times}
				a.h.add(ru)
				rep, err := a.verifyRef(t, idx, ignoreTlog)
				tc.want.assert(t, rep, err)
				if tc.genuine {
					genuineEvaluated(t, rep)
				}
				// One fetch and one re-fetch per entry that holds it (the
				// provenance bundle is attached to the index and the platform).
				if n := a.h.served(ru); tc.times == 0 && n > 2*len(subs) {
					t.Errorf("the altered object was fetched %d times; one re-fetch at most", n)
				}
			})
		}
		t.Run("an unreachable registry is exit 3", func(t *testing.T) {
			ln := httptest.NewServer(http.NotFoundHandler())
			addr := strings.TrimPrefix(ln.URL, "http://")
			ln.Close()
			_, err := a.verify(t, addr+"/gone/app@"+a.genuine.DigestStr(), nil)
			outcome{exit: 3, reason: "gone/app"}.assert(t, nil, err)
		})
	})

	// Class 7: one clear line per failing check, nothing unrelated.
	t.Run("messages", func(t *testing.T) {
		t.Run("wrong identity", func(t *testing.T) {
			idx, _ := a.place(t, "api")
			rep, err := a.verifyRef(t, idx, func(o *verify.Options) { o.Identity.Subject = "mallory@example.com" })
			outcome{exit: 1, check: "signature", reason: "no signature by mallory@example.com"}.assert(t, rep, err)
			for _, c := range rep.Failed() {
				for _, bad := range []string{"offline verification failed", "--insecure-ignore-tlog", "harden sign", "\n"} {
					if strings.Contains(c.Reason, bad) {
						t.Errorf("%s says %q: %s", c.Name, bad, c.Reason)
					}
				}
				if c.Name != "storage" && c.Name != "policy" && !strings.Contains(c.Reason, "signed by "+email) {
					t.Errorf("%s does not name the signer actually found: %s", c.Name, c.Reason)
				}
				if c.Name == "policy" {
					t.Errorf("the policy restates a failed built-in check: %s", c.Reason)
				}
			}
		})
		t.Run("each layout's own reason once", func(t *testing.T) {
			idx, subs := a.place(t, "api")
			for _, s := range subs[1:] {
				a.dropSBOMReferrers(t, s)
			}
			rep, err := a.verifyRef(t, idx, nil)
			outcome{exit: 1, check: "sbom", reason: "legacy: 2× no transparency log entry"}.assert(t, rep, err)
			for _, c := range rep.Failed() {
				if c.Name == "sbom" && (strings.Count(c.Reason, "legacy:") != 1 || strings.Contains(c.Reason, "referrers:")) {
					t.Errorf("sbom reason: %s", c.Reason)
				}
			}
		})
		t.Run("legacy entries of another image", func(t *testing.T) {
			idx, _ := a.place(t, "api")
			// The other image differs in its index only; its index's
			// cosign tags are pushed under this index's tag names.
			osubs := a.otherImage(t)
			for _, suffix := range []string{".sig", ".att"} {
				from := osubs[0].Context().Tag(strings.Replace(osubs[0].DigestStr(), ":", "-", 1) + suffix)
				img, err := remote.Image(from)
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Write(idx.Context().Tag(strings.Replace(idx.DigestStr(), ":", "-", 1)+suffix), img); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := a.verifyRef(t, idx, ignoreTlog)
			outcome{exit: 0}.assert(t, rep, err)
			var storage string
			for _, c := range rep.Checks {
				if c.Name == "storage" {
					storage = c.Reason
				}
			}
			m := regexp.MustCompile(`legacy: ([0-9]+) of ([0-9]+) entries verified`).FindStringSubmatch(storage)
			if m == nil || m[1] == m[2] {
				t.Errorf("storage does not say which legacy entries are unusable: %s", storage)
			}
			if rep.Checks[2].Name != "signature" || !strings.Contains(rep.Checks[2].Reason, "referrers signature") {
				t.Errorf("the index signature does not rest on the referrers: %+v", rep.Checks[2])
			}
		})
		t.Run("copied without attestations", func(t *testing.T) {
			repo := a.genuine.Context().Registry.Repo("adv/bare-copy")
			if err := remote.WriteIndex(repo.Digest(a.genuine.DigestStr()), a.res.Index); err != nil {
				t.Fatal(err)
			}
			rep, err := a.verifyRef(t, repo.Digest(a.genuine.DigestStr()), nil)
			outcome{exit: 1, check: "storage", reason: "harden copy"}.assert(t, rep, err)
		})
		t.Run("no internal addresses or Go maps", func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			if _, err := export.Export(ctx, a.res.Client, a.genuine, dir); err != nil {
				t.Fatal(err)
			}
			s, err := export.Serve(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			internal := s.Image.Context().RegistryStr()
			s.Close()
			rep, err := verify.Verify(ctx, verify.Options{Layout: dir, Identity: verify.Identity{Subject: "mallory@example.com", Issuer: a.st.Issuer.URL()},
				Trust: sign.TrustOptions{TrustedRootPath: a.st.TrustedRootPath, Offline: true}})
			outcome{exit: 1, check: "signature", reason: "mallory@example.com"}.assert(t, rep, err)
			b, _ := json.Marshal(rep)
			issuer := strings.TrimPrefix(a.st.Issuer.URL(), "http://")
			for _, host := range regexp.MustCompile(`127\.0\.0\.1:[0-9]+`).FindAllString(string(b), -1) {
				if host != a.genuine.Context().RegistryStr() && host != issuer || host == internal {
					t.Errorf("the report names the internal registry %s: %s", host, b)
					break
				}
			}
			_, err = a.verify(t, a.genuine.Context().Registry.Repo("adv/missing").Digest(a.genuine.DigestStr()).String(), nil)
			if err == nil || strings.Contains(err.Error(), "map[") {
				t.Errorf("a missing image: %v", err)
			}
		})
	})
}

// rewriteLegacy rebuilds a cosign image layer by layer: edit returns
// the layer's annotations, or false to drop the layer.
func rewriteLegacy(edit func(i int, ann map[string]string) (map[string]string, bool)) func(v1.Image) v1.Image {
	return func(img v1.Image) v1.Image {
		m, err := img.Manifest()
		if err != nil {
			panic(err)
		}
		ls, err := img.Layers()
		if err != nil {
			panic(err)
		}
		base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{})
		if err != nil {
			panic(err)
		}
		out := mutate.MediaType(base, m.MediaType)
		for i, l := range ls {
			ann, keep := edit(i, maps.Clone(m.Layers[i].Annotations))
			if !keep {
				continue
			}
			if out, err = mutate.Append(out, mutate.Addendum{Layer: l, Annotations: ann, MediaType: m.Layers[i].MediaType}); err != nil {
				panic(err)
			}
		}
		return out
	}
}

// relabelLegacy gives every layer of a cosign image a wrong predicateType.
func relabelLegacy(img v1.Image) v1.Image {
	return rewriteLegacy(func(i int, ann map[string]string) (map[string]string, bool) {
		if ann == nil {
			ann = map[string]string{}
		}
		ann["predicateType"] = []string{verify.SLSAPredicateType, verify.SPDXPredicateType, "x"}[i%3]
		return ann, true
	})(img)
}

// keepLayers rebuilds a cosign image with the layers keep accepts.
func keepLayers(keep func(ann map[string]string) bool) func(v1.Image) v1.Image {
	return rewriteLegacy(func(_ int, ann map[string]string) (map[string]string, bool) { return ann, keep(ann) })
}

// editReferrers has the proxy rewrite subject's referrers API answer.
func (a *adversary) editReferrers(subject name.Digest, edit func(ms []any) []any) {
	a.h.add(&rule{match: under(subject.Context(), func(r string) bool { return r == "referrers/"+subject.DigestStr() }), edit: func(b []byte) []byte {
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			return b
		}
		ms, _ := m["manifests"].([]any)
		m["manifests"] = edit(ms)
		out, _ := json.Marshal(m)
		return out
	}})
}

// dropSBOMReferrers hides subject's SBOM referrers behind the proxy.
func (a *adversary) dropSBOMReferrers(t *testing.T, subject name.Digest) {
	t.Helper()
	sboms := map[string]bool{}
	for _, pt := range []string{verify.SPDXPredicateType, verify.CycloneDXPredicateType} {
		sboms[a.referrerOf(t, a.subs[len(a.subs)-1], pt)] = true
	}
	a.editReferrers(subject, func(ms []any) []any {
		keep := []any{}
		for _, d := range ms {
			if !sboms[d.(map[string]any)["digest"].(string)] {
				keep = append(keep, d)
			}
		}
		return keep
	})
}

// referrerOf is the digest of the genuine referrer of subject whose
// verified statement has the predicate type.
func (a *adversary) referrerOf(t *testing.T, subject name.Digest, predicateType string) string {
	t.Helper()
	for _, at := range a.base.Input.Attestations {
		if at.Subject == subject.DigestStr() && at.PredicateType == predicateType && at.Layout == attach.LayoutReferrers {
			return at.Entry
		}
	}
	t.Fatalf("no %s referrer on %s", predicateType, subject)
	return ""
}

// bundleBlob is the digest of the bundle layer of that referrer.
func (a *adversary) bundleBlob(t *testing.T, subject name.Digest, predicateType string) string {
	t.Helper()
	img, err := remote.Image(subject.Context().Digest(a.referrerOf(t, subject, predicateType)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers[0].Digest.String()
}

func (a *adversary) platformConfig(t *testing.T) string {
	t.Helper()
	img, err := remote.Image(a.subs[1])
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func (a *adversary) builderID(t *testing.T) string {
	t.Helper()
	for _, at := range a.base.Input.Attestations {
		if at.PredicateType == verify.SLSAPredicateType {
			pred := at.Statement["predicate"].(map[string]any)
			return pred["runDetails"].(map[string]any)["builder"].(map[string]any)["id"].(string)
		}
	}
	t.Fatal("no provenance")
	return ""
}

// otherImage is another genuinely released image (both layouts), made
// once.
func (a *adversary) otherImage(t *testing.T) []name.Digest {
	t.Helper()
	a.other.once.Do(func() {
		rel, subs := a.world.copyImage(t, otherIndex(t, a.res.Index))
		a.world.release(t, rel, subs, attach.Both, nil)
		a.other.subs = subs
	})
	if a.other.subs == nil {
		t.Fatal("the other image was not released")
	}
	return a.other.subs
}

// signerFor is a keyless signer with another identity of the same issuer.
func (a *adversary) signerFor(t *testing.T, who string) *sign.Signer {
	t.Helper()
	s, err := attest.NewSigner(context.Background(), attest.SignerParams{IdentityToken: a.st.Issuer.Token(t, who), TrustedRoot: a.st.TrustedRootPath,
		SigningConfig: a.st.SigningConfigPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// attachWith signs harden's statements for the genuine digests with s,
// edited, and attaches them as referrers of subs.
func (a *adversary) attachWith(t *testing.T, s *sign.Signer, subs []name.Digest, edit func(string, map[string]any)) {
	t.Helper()
	rel := *a.res.Release
	rel.Image = subs[0].String()
	sts := a.statements(t, &rel, subs, attest.AllTypes, edit)
	at := &attest.Attester{Signer: s, Store: attach.New(a.res.Client), Storage: attach.Referrers}
	if _, err := at.Attest(context.Background(), sts); err != nil {
		t.Fatal(err)
	}
}

func decodeB64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return string(b)
}
