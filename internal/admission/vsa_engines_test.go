package admission

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/admission/admissiontest"
	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

const verifier = "verifier@example.com"

// vsaImages are the fixture image published once per case, each copy
// carrying different verification summaries.
type vsaImages struct {
	st       *sigstoretest.Stack
	key      string // the verifier's public key, PEM
	repos    []string
	keyRepos []string
	img      map[string]name.Digest
	tag      name.Tag // a tag of "good"
}

// publishVSACases releases the fixture image with the local Sigstore
// stack to an in-process registry (no referrers API: bundles are found
// through the sha256-<hex> fallback tag, as in publishCases) and attaches
// VSAs in both storage layouts with attest.Attester, as harden does.
func publishVSACases(t *testing.T) *vsaImages {
	t.Helper()
	if testing.Short() {
		t.Skip("admission engines: builds the fixture image and signs it with the local Sigstore stack; skipped in -short mode")
	}
	ctx := context.Background()
	st := sigstoretest.Start(t)
	res := buildtest.Build(t, buildtest.Options{Registry: registrytest.Start(t, nil)})
	store := attach.New(res.Client)
	noenv := func(string) string { return "" }
	keyless := func(email string) *attest.Attester {
		s, err := attest.NewSigner(ctx, attest.SignerParams{IdentityToken: st.Issuer.Token(t, email),
			TrustedRoot: st.TrustedRootPath, SigningConfig: st.SigningConfigPath, Getenv: noenv})
		if err != nil {
			t.Fatal(err)
		}
		return &attest.Attester{Signer: s, Store: store, Storage: attach.Both}
	}
	// A key signs air-gapped: no log entry, no timestamp.
	keyed := func(prefix string) (*attest.Attester, string) {
		kp, err := sign.GenerateKey(filepath.Join(t.TempDir(), prefix), nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := attest.NewSigner(ctx, attest.SignerParams{KeyPath: kp.Private, Getenv: noenv})
		if err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(kp.Public)
		if err != nil {
			t.Fatal(err)
		}
		return &attest.Attester{Signer: s, Store: store, Storage: attach.Both}, string(pub)
	}
	byVerifier, byIntruder, byRelease := keyless(verifier), keyless(intruder), keyless(releaser)
	byKey, pub := keyed("verifier")
	byOtherKey, _ := keyed("other")

	im := &vsaImages{st: st, key: pub, img: map[string]name.Digest{}}
	now := time.Now().UTC()
	fresh := now.Add(-time.Minute)
	l1, l2 := []string{"SLSA_BUILD_LEVEL_1"}, []string{"SLSA_BUILD_LEVEL_2"}
	attestVSAs := func(a *attest.Attester, rel *dist.Release, vsas ...admissiontest.VSA) {
		var stmts []attest.Statement
		for _, v := range vsas {
			v.Release = rel
			s, err := v.Attestation()
			if err != nil {
				t.Fatal(err)
			}
			stmts = append(stmts, s)
		}
		if _, err := a.Attest(ctx, stmts); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(path string, repos *[]string, a *attest.Attester, vsas ...admissiontest.VSA) (*dist.Release, []name.Digest) {
		rel, subs := res.Copy(t, nil, "vsa/"+path)
		*repos = append(*repos, rel.Repository)
		im.img[path] = subs[0]
		if len(vsas) > 0 {
			attestVSAs(a, rel, vsas...)
		}
		return rel, subs
	}
	passed := func(at time.Time, levels []string) admissiontest.VSA {
		return admissiontest.VSA{TimeVerified: at, Result: VSAPassed, Levels: levels}
	}

	publish("good", &im.repos, byVerifier, passed(fresh, l1))
	publish("level2", &im.repos, byVerifier, passed(fresh, l2))
	// Signed by the release identity, with no VSA.
	_, subs := publish("no-vsa", &im.repos, nil)
	if _, err := byRelease.Sign(ctx, subs); err != nil {
		t.Fatal(err)
	}
	publish("failed", &im.repos, byVerifier, admissiontest.VSA{TimeVerified: fresh, Result: "FAILED", Levels: l1})
	publish("stale", &im.repos, byVerifier, passed(now.Add(-200*time.Hour), l1))
	publish("future", &im.repos, byVerifier, passed(now.Add(time.Hour), l1))
	publish("other-signer", &im.repos, byIntruder, passed(fresh, l1))
	publish("stale-and-fresh", &im.repos, byVerifier, passed(now.Add(-200*time.Hour), l1), passed(fresh, l1))
	both, _ := publish("verifier-and-other", &im.repos, byVerifier, passed(fresh, l1))
	attestVSAs(byIntruder, both, passed(fresh, l1))
	publish("passed-and-failed", &im.repos, byVerifier, passed(fresh.Add(-time.Hour), l1),
		admissiontest.VSA{TimeVerified: fresh, Result: "FAILED", Levels: l1})
	// A VSA of another image, replayed onto this one: the bundles are
	// attached as its referrers and the .att tag is copied to its digest.
	target, _ := publish("other-digest", &im.repos, nil)
	otherRel, otherSubs := res.Copy(t, otherIndex(t, res), "vsa/other-digest")
	if otherRel.Digest == target.Digest {
		t.Fatal("the other image has the same digest")
	}
	attestVSAs(byVerifier, otherRel, passed(fresh, l1))
	replayVSAs(t, store, otherSubs[0], im.img["other-digest"])

	publish("key-good", &im.keyRepos, byKey, passed(fresh, l1))
	publish("key-other-key", &im.keyRepos, byOtherKey, passed(fresh, l1))
	publish("key-keyless", &im.keyRepos, byVerifier, passed(fresh, l1))

	im.tag = im.img["good"].Context().Tag("4.3.0-r1")
	desc, err := remote.Get(im.img["good"])
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(im.tag, desc); err != nil {
		t.Fatal(err)
	}
	return im
}

// otherIndex is the fixture's index with an annotation on every
// manifest: another image, whose index and platform digests all differ.
func otherIndex(t *testing.T, res *buildtest.Result) v1.ImageIndex {
	t.Helper()
	ann := map[string]string{"org.opencontainers.image.description": "another image"}
	im, err := res.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := res.Index.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.IndexMediaType(empty.Index, mt)
	for _, m := range im.Manifests {
		img, err := res.Index.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: mutate.Annotations(img, ann).(v1.Image),
			Descriptor: v1.Descriptor{MediaType: m.MediaType, Platform: m.Platform}})
	}
	return mutate.Annotations(idx, ann).(v1.ImageIndex)
}

// replayVSAs attaches the VSAs of from to to, as someone with push
// rights could: each referrer bundle as a referrer of to, and from's
// .att image as to's .att tag.
func replayVSAs(t *testing.T, store *attach.Store, from, to name.Digest) {
	t.Helper()
	ctx := context.Background()
	found, err := store.Find(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Referrers) == 0 {
		t.Fatalf("%s has no referrers to replay", from)
	}
	for _, r := range found.Referrers {
		if _, err := store.PutReferrer(ctx, to, attach.Referrer{Bundle: r.Bundle, Content: attach.ContentDSSE,
			PredicateType: PredicateVSA, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	att := func(d name.Digest) name.Tag {
		return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".att")
	}
	desc, err := remote.Get(att(from))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(att(to), desc); err != nil {
		t.Fatal(err)
	}
}

// params governs every keyless case's repository with the local stack's
// trust; the verifier signs keyless.
func (im *vsaImages) params(t *testing.T, format string) Params {
	t.Helper()
	trust, err := LoadTrust(im.st.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	// Rekor v2 entries do not fit the legacy layout: legacy verifiers rely
	// on the RFC 3161 timestamps.
	return Params{Name: "pgcli", Repositories: im.repos, Issuer: im.st.Issuer.URL(), Subject: verifier,
		Format: format, Trust: trust, IgnoreTlog: true,
		VSA: &VSARequirement{MaxAge: DefaultVSAMaxAge, Level: DefaultVSALevel}}
}

// keyParams governs the key cases' repositories; the verifier signs with
// a key.
func (im *vsaImages) keyParams(format string) Params {
	return Params{Name: "pgcli", Repositories: im.keyRepos, Format: format,
		VSA: &VSARequirement{MaxAge: DefaultVSAMaxAge, Level: DefaultVSALevel, PublicKey: im.key}}
}

// verdict is what an engine must decide, and part of its reason for a
// denial ("" checks no reason).
type verdict struct {
	admit   bool
	because string
}

type vsaCase struct {
	name  string
	image string // a key of vsaImages.img, or "tag"
	key   bool   // the verifier signs with a key
	edit  func(*VSARequirement)
	// kyverno is Kyverno's verdict, pc policy-controller's.
	kyverno, pc verdict
	// bundle is Kyverno's verdict in the bundle layout, where it differs.
	bundle *verdict
}

func admitted() verdict             { return verdict{admit: true} }
func denied(because string) verdict { return verdict{because: because} }
func requireL2(v *VSARequirement)   { v.Level = "SLSA_BUILD_LEVEL_2" }
func (im *vsaImages) ref(c vsaCase) string {
	if c.image == "tag" {
		return im.tag.String()
	}
	return im.img[c.image].String()
}

func vsaCases() []vsaCase {
	noVSA := "no matching attestations"
	noSignatures := &verdict{because: "no matching signatures found"}
	return []vsaCase{
		{name: "fresh PASSED VSA by the verifier", image: "good", kyverno: admitted(), pc: admitted()},
		{name: "level 2 satisfies level 1", image: "level2", kyverno: admitted(), pc: admitted()},
		{name: "level 2 required and stated", image: "level2", edit: requireL2, kyverno: admitted(), pc: admitted()},
		{name: "tag reference", image: "tag", kyverno: denied("missing digest"), pc: denied("is uncovered by policy")},
		{name: "no VSA, signed by the release identity", image: "no-vsa", kyverno: denied("no matching attestations"), pc: denied(noVSA), bundle: noSignatures},
		{name: "FAILED VSA", image: "failed", kyverno: denied("the verification result is FAILED, not PASSED"), pc: denied("the verification result is FAILED, not PASSED")},
		{name: "stale VSA", image: "stale", kyverno: denied("more than 168h0m0s ago"), pc: denied("more than 168h0m0s ago")},
		{name: "VSA verified in the future", image: "future", kyverno: denied("more than 5m0s in the future"), pc: denied("more than 5m0s ahead")},
		{name: "VSA of another digest", image: "other-digest", kyverno: denied("no matching subject digest found"), pc: denied("no matching subject digest found"), bundle: noSignatures},
		{name: "VSA by another identity", image: "other-signer", kyverno: denied("subject mismatch"), pc: denied("none of the expected identities matched"), bundle: noSignatures},
		{name: "VSA lacking the required level", image: "good", edit: requireL2, kyverno: denied("the verified levels include neither SLSA_BUILD_LEVEL_2 nor a higher level"),
			pc: denied("the verified levels [\"SLSA_BUILD_LEVEL_1\"] include neither SLSA_BUILD_LEVEL_2 nor a higher level")},
		{name: "policy digest required and recorded", image: "good", edit: func(v *VSARequirement) { v.PolicyDigest = admissiontest.PolicyDigest },
			kyverno: admitted(), pc: admitted()},
		{name: "VSA made under another policy", image: "good", edit: func(v *VSARequirement) { v.PolicyDigest = "sha256:" + strings.Repeat("0", 64) },
			kyverno: denied("not sha256:" + strings.Repeat("0", 64)), pc: denied("not sha256:" + strings.Repeat("0", 64))},
		// Kyverno requires every VSA by the verifier to pass;
		// policy-controller one of them.
		{name: "stale and fresh VSA", image: "stale-and-fresh", kyverno: denied("more than 168h0m0s ago"), pc: admitted()},
		// In the legacy layout Kyverno checks the identity of every VSA
		// that chains to the trusted Fulcio; in bundles it skips the
		// others'.
		{name: "VSAs by the verifier and by another identity", image: "verifier-and-other", kyverno: denied("subject mismatch"), pc: admitted(),
			bundle: &verdict{admit: true}},
		{name: "PASSED, then FAILED VSA", image: "passed-and-failed", kyverno: denied("the verification result is FAILED, not PASSED"), pc: admitted()},
		{name: "key: VSA by the key", image: "key-good", key: true, kyverno: admitted(), pc: admitted()},
		{name: "key: VSA by another key", image: "key-other-key", key: true, kyverno: denied("no matching attestations"), pc: denied(noVSA), bundle: noSignatures},
		{name: "key: keyless VSA", image: "key-keyless", key: true, kyverno: denied("no matching attestations"), pc: denied(noVSA), bundle: noSignatures},
	}
}

// TestVSAEngineVerdicts runs the --from-vsa policies in each engine's own
// verifier against images carrying verification summaries.
func TestVSAEngineVerdicts(t *testing.T) {
	kyverno := findTool(t, "kubectl-kyverno")
	tester := findTool(t, "policy-tester")
	im := publishVSACases(t)
	t.Run("kyverno", func(t *testing.T) { kyvernoVSAVerdicts(t, kyverno, im) })
	t.Run("policy-controller", func(t *testing.T) { policyControllerVSAVerdicts(t, tester, im) })
}

func (im *vsaImages) policyParams(t *testing.T, c vsaCase, format string) Params {
	p := im.params(t, format)
	if c.key {
		p = im.keyParams(format)
	}
	if c.edit != nil {
		v := *p.VSA
		c.edit(&v)
		p.VSA = &v
	}
	return p
}

func kyvernoVSAVerdicts(t *testing.T, kyverno string, im *vsaImages) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trusted, err := os.ReadFile(im.st.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	tufRoot := "TUF_ROOT=" + tufCache(t, trusted)
	for _, format := range []string{FormatLegacy, FormatBundle} {
		for i, c := range vsaCases() {
			t.Run(format+"/"+c.name, func(t *testing.T) {
				b, err := Kyverno(im.policyParams(t, c, format))
				if err != nil {
					t.Fatal(err)
				}
				policy := write(fmt.Sprintf("policy-%s-%d.yaml", format, i), b)
				pod := write(fmt.Sprintf("pod-%s-%d.yaml", format, i), podFor(im.ref(c)))
				r := kyvernoApply(t, kyverno, policy, pod, tufRoot)
				want := c.kyverno
				if format == FormatBundle && c.bundle != nil {
					want = *c.bundle
				}
				if want.admit != (r.fail == 0 && r.pass > 0) {
					t.Fatalf("kyverno: admit=%v, want %v\n%s", !want.admit, want.admit, r.out)
				}
				if !strings.Contains(r.out, want.because) {
					t.Fatalf("kyverno denied %s, but not for %q:\n%s", c.image, want.because, r.out)
				}
				t.Logf("kyverno (%s) %s: pass %d fail %d%s", format, c.image, r.pass, r.fail, r.reason())
			})
		}
	}
}

func policyControllerVSAVerdicts(t *testing.T, tester string, im *vsaImages) {
	dir := t.TempDir()
	// files writes the policy's documents: the TrustRoot (keyless) and
	// the ClusterImagePolicy.
	files := func(p Params, n int) (trustRoot, cip string) {
		b, err := PolicyController(p)
		if err != nil {
			t.Fatal(err)
		}
		docs := strings.Split(string(b), "\n---\n")
		base := filepath.Join(dir, fmt.Sprintf("%s-%d", p.Format, n))
		for i, d := range docs {
			if err := os.WriteFile(fmt.Sprintf("%s-%d.yaml", base, i), []byte(d), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		switch len(docs) {
		case 1:
			return "", base + "-0.yaml"
		case 2:
			return base + "-0.yaml", base + "-1.yaml"
		}
		t.Fatalf("want a ClusterImagePolicy and at most a TrustRoot, got %d documents", len(docs))
		return "", ""
	}
	for i, c := range vsaCases() {
		t.Run(c.name, func(t *testing.T) {
			tr, cip := files(im.policyParams(t, c, FormatLegacy), i)
			errs, out := runTester(t, tester, tr, cip, im.ref(c))
			if c.pc.admit != (len(errs) == 0) {
				t.Fatalf("policy-controller: errors %q, want admit=%v\n%s", errs, c.pc.admit, out)
			}
			if !c.pc.admit && !strings.Contains(strings.Join(errs, "\n"), c.pc.because) {
				t.Fatalf("policy-controller denied %s for %q, want a reason containing %q", c.image, errs, c.pc.because)
			}
			t.Logf("policy-controller %s: %q", c.image, errs)
		})
	}
	// policy-controller v0.13.1 reads bundles with sigstore-go v0.7.2,
	// which refuses the local stack's Rekor v2 entries; the keyless bundle
	// policy must still validate (see TestEngineVerdicts).
	t.Run("bundle form", func(t *testing.T) {
		tr, cip := files(im.params(t, FormatBundle), -1)
		errs, out := runTester(t, tester, tr, cip, im.img["good"].String())
		if !strings.Contains(out, "Policy was successfully validated") {
			t.Fatalf("policy-controller did not validate the bundle policy:\n%s", out)
		}
		if len(errs) > 0 && !strings.Contains(strings.Join(errs, "\n"), "no valid bundles exist in registry") {
			t.Fatalf("policy-controller refused the bundle policy's image for an unexpected reason: %q", errs)
		}
		t.Logf("bundle form against Rekor v2 bundles: %q", errs)
	})
}
