package attest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

const signer = "release@example.com"

func newSigner(t *testing.T, st *sigstoretest.Stack) attest.SignerParams {
	return attest.SignerParams{IdentityToken: st.Issuer.Token(t, signer), TrustedRoot: st.TrustedRootPath,
		SigningConfig: st.SigningConfigPath, Getenv: func(string) string { return "" }}
}

func count(rep *attest.Report, status string) int {
	n := 0
	for _, e := range rep.Entries {
		if e.Status == status {
			n++
		}
	}
	return n
}

// verifyBundle checks a stored bundle the way a verifier would: the
// identity, the Rekor v2 inclusion proof, the TSA timestamp, and that the
// statement names the subject.
func verifyBundle(t *testing.T, st *sigstoretest.Stack, raw []byte, subject name.Digest) *verify.VerificationResult {
	t.Helper()
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		t.Fatalf("stored bundle: %v", err)
	}
	if b.GetMediaType() != attach.BundleMediaType {
		t.Errorf("bundle media type %s", b.GetMediaType())
	}
	if !b.HasInclusionProof() {
		t.Error("bundle has no inclusion proof")
	}
	ts, err := b.Timestamps()
	if err != nil || len(ts) == 0 {
		t.Errorf("bundle has no RFC 3161 timestamp (%v)", err)
	}
	if b.GetVerificationMaterial().GetCertificate() == nil {
		t.Error("keyless v0.3 bundle must carry a single leaf certificate")
	}
	v, err := verify.NewVerifier(st.TrustedRoot, verify.WithSignedTimestamps(1), verify.WithTransparencyLog(1))
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(st.Issuer.URL(), "", signer, "")
	if err != nil {
		t.Fatal(err)
	}
	hexd := strings.TrimPrefix(subject.DigestStr(), "sha256:")
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", mustHex(t, hexd)), verify.WithCertificateIdentity(id)))
	if err != nil {
		t.Fatalf("verify bundle for %s: %v", subject, err)
	}
	// The wrong identity must fail.
	bad, _ := verify.NewShortCertificateIdentity(st.Issuer.URL(), "", "mallory@example.com", "")
	if _, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", mustHex(t, hexd)), verify.WithCertificateIdentity(bad))); err == nil {
		t.Error("bundle verified for another identity")
	}
	return res
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

// Sign and attest the fixture image in both layouts against the local
// Sigstore stack, verify every stored bundle, and re-run without
// duplicating anything.
func TestSignAndAttestFixture(t *testing.T) {
	ctx := context.Background()
	st := sigstoretest.Start(t)
	res := buildtest.Build(t, buildtest.Options{Registry: registrytest.StartReferrers(t)})
	s, err := attest.NewSigner(ctx, newSigner(t, st))
	if err != nil {
		t.Fatal(err)
	}
	if id := s.Identity(); id.Subject != signer || id.Issuer != st.Issuer.URL() {
		t.Fatalf("identity %+v", id)
	}
	p := attest.Params{Storage: attach.Both, Signer: s, Registry: res.Client, HardenVersion: "test",
		Getenv: func(string) string { return "" }}
	subs, err := res.Release.Subjects()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := attest.SignRelease(ctx, p, res.Release)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * len(subs); count(rep, "attached") != want {
		t.Fatalf("sign attached %d entries, want %d: %+v", count(rep, "attached"), want, rep.Entries)
	}
	// harden attest makes no SBOM of its own: without the sbom stage's
	// files it says how to write them.
	out := dist.Dir(res.Out)
	if _, err := attest.LoadFacts(out, res.Release, attest.AllTypes); errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "harden sbom --out") {
		t.Fatalf("attest without SBOM files: %v", err)
	}
	// The sbom stage's files are what gets attested.
	files, err := dist.WriteSBOMs(out.SBOMs(), res.SBOMs(t, res.Release.Repository))
	if err != nil {
		t.Fatal(err)
	}
	facts, err := attest.LoadFacts(out, res.Release, attest.AllTypes)
	if err != nil {
		t.Fatal(err)
	}
	arep, err := attest.AttestRelease(ctx, p, facts, attest.AllTypes)
	if err != nil {
		t.Fatal(err)
	}
	// Provenance on every subject; each platform's two SBOMs on the
	// platform and on the index; both layouts.
	plats := len(subs) - 1
	if want := 2 * (len(subs) + 2*2*plats); count(arep, "attached") != want {
		t.Fatalf("attest attached %d, want %d", count(arep, "attached"), want)
	}

	store := attach.New(res.Client)
	preds := map[string]int{}
	for _, sub := range subs {
		f, err := store.Find(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Signatures) != 1 {
			t.Errorf("%s: %d legacy signatures, want 1", sub, len(f.Signatures))
		}
		for _, r := range f.Referrers {
			vr := verifyBundle(t, st, r.Bundle, sub)
			pt := vr.Statement.GetPredicateType()
			if r.Annotations[attach.AnnotationPredType] != pt {
				t.Errorf("annotation says %s, statement %s", r.Annotations[attach.AnnotationPredType], pt)
			}
			preds[pt]++
			if pt == "https://spdx.dev/Document" && sub != subs[0] {
				checkSameJSON(t, files, ".spdx.json", vr.Statement.GetPredicate())
			}
		}
		wantAtt := 1 // provenance
		if sub != subs[0] {
			wantAtt += 2
		} else {
			wantAtt += 2 * plats
		}
		if len(f.Attestations) != wantAtt {
			t.Errorf("%s: %d legacy attestations, want %d", sub, len(f.Attestations), wantAtt)
		}
		// Each .att entry's timestamp is over the envelope it holds, as
		// cosign checks it.
		for _, a := range f.Attestations {
			ts, err := cosign.VerifyRFC3161Timestamp(a, &cosign.CheckOpts{TrustedMaterial: st.TrustedRoot})
			if err != nil || ts == nil {
				t.Errorf("%s: legacy attestation timestamp: %v (%v)", sub, ts, err)
			}
		}
	}
	if preds[attest.CosignSignPredicateType] != len(subs) || preds["https://slsa.dev/provenance/v1"] != len(subs) ||
		preds["https://spdx.dev/Document"] != 2*plats || preds["https://cyclonedx.org/bom"] != 2*plats {
		t.Errorf("referrer predicate counts %v", preds)
	}

	// Re-run with a fresh certificate for the same identity: nothing new.
	s2, err := attest.NewSigner(ctx, newSigner(t, st))
	if err != nil {
		t.Fatal(err)
	}
	p.Signer = s2
	rep2, err := attest.SignRelease(ctx, p, res.Release)
	if err != nil {
		t.Fatal(err)
	}
	arep2, err := attest.AttestRelease(ctx, p, facts, attest.AllTypes)
	if err != nil {
		t.Fatal(err)
	}
	if count(rep2, "attached")+count(arep2, "attached") != 0 {
		t.Fatalf("re-run attached again: %+v %+v", rep2.Entries, arep2.Entries)
	}
	f, err := store.Find(ctx, subs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Referrers) != 2+2*plats || len(f.Signatures) != 1 {
		t.Fatalf("after re-run: %d referrers, %d signatures", len(f.Referrers), len(f.Signatures))
	}
}

// SignAndAttest signs and attests in one pass and reports as Sign and
// Attest would; afterwards both find everything present.
func TestSignAndAttestOnePass(t *testing.T) {
	ctx := context.Background()
	st := sigstoretest.Start(t)
	res := buildtest.Build(t, buildtest.Options{Registry: registrytest.StartReferrers(t)})
	s, err := attest.NewSigner(ctx, newSigner(t, st))
	if err != nil {
		t.Fatal(err)
	}
	p := attest.Params{Storage: attach.Both, Signer: s, Registry: res.Client, HardenVersion: "test",
		Getenv: func(string) string { return "" }}
	subs, err := res.Release.Subjects()
	if err != nil {
		t.Fatal(err)
	}
	out := dist.Dir(res.Out)
	if _, err := dist.WriteSBOMs(out.SBOMs(), res.SBOMs(t, res.Release.Repository)); err != nil {
		t.Fatal(err)
	}
	facts, err := attest.LoadFacts(out, res.Release, attest.AllTypes)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := attest.Statements(p, facts, attest.AllTypes)
	if err != nil {
		t.Fatal(err)
	}
	a := &attest.Attester{Signer: s, Store: attach.New(res.Client), Storage: attach.Both}
	signs, atts, err := a.SignAndAttest(ctx, subs, stmts)
	if err != nil {
		t.Fatal(err)
	}
	plats := len(subs) - 1
	if count(signs, "attached") != 2*len(subs) || len(signs.Entries) != 2*len(subs) {
		t.Errorf("signatures: %d attached of %d, want %d", count(signs, "attached"), len(signs.Entries), 2*len(subs))
	}
	if want := 2 * (len(subs) + 2*2*plats); count(atts, "attached") != want || len(atts.Entries) != want {
		t.Errorf("attestations: %d attached of %d, want %d", count(atts, "attached"), len(atts.Entries), want)
	}
	for _, e := range signs.Entries {
		if e.Kind != "signature" || (e.Layout == "referrers") != (e.Referrer != "") || e.LogIndex == nil {
			t.Errorf("signature entry %+v", e)
		}
	}
	for _, e := range atts.Entries {
		if e.Kind != "attestation" || (e.Layout == "referrers") != (e.Referrer != "") || e.LogIndex == nil {
			t.Errorf("attestation entry %+v", e)
		}
	}
	if signs.Identity != s.Identity() || atts.Storage != string(attach.Both) {
		t.Errorf("reports: %+v / %+v", signs.Identity, atts.Storage)
	}
	rep, err := attest.SignRelease(ctx, p, res.Release)
	if err != nil {
		t.Fatal(err)
	}
	arep, err := attest.AttestRelease(ctx, p, facts, attest.AllTypes)
	if err != nil {
		t.Fatal(err)
	}
	if count(rep, "attached")+count(arep, "attached") != 0 || count(rep, "present") != len(signs.Entries) || count(arep, "present") != len(atts.Entries) {
		t.Fatalf("after one pass, sign and attest attached %d and %d", count(rep, "attached"), count(arep, "attached"))
	}
}

// A token from an issuer Fulcio does not trust fails before anything is
// signed or attached.
func TestUntrustedIssuer(t *testing.T) {
	ctx := context.Background()
	st := sigstoretest.Start(t)
	other := sigstoretest.NewIssuer(t)
	sp := newSigner(t, st)
	tok := other.Token(t, signer)
	sp.IdentityToken = tok
	_, err := attest.NewSigner(ctx, sp)
	if err == nil {
		t.Fatal("Fulcio issued a certificate for an untrusted issuer")
	}
	if !strings.Contains(err.Error(), "Fulcio") || !strings.Contains(err.Error(), other.URL()) || strings.Contains(err.Error(), tok) {
		t.Errorf("error should name Fulcio and the issuer, not the token: %v", err)
	}
}

// A registry that refuses the referrer push fails the run with a clear
// error and leaves no referrer behind; a plain re-run completes it.
func TestRegistryRefusesSignature(t *testing.T) {
	ctx := context.Background()
	st := sigstoretest.Start(t)
	var refusing atomic.Bool
	refusing.Store(true)
	reg := registrytest.Start(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refusing.Load() && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && isReferrer(r) {
				http.Error(w, `{"errors":[{"code":"DENIED","message":"signatures not allowed"}]}`, http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	res := buildtest.Build(t, buildtest.Options{Registry: reg})
	s, err := attest.NewSigner(ctx, newSigner(t, st))
	if err != nil {
		t.Fatal(err)
	}
	p := attest.Params{Storage: attach.Referrers, Signer: s, Registry: registry.New(registry.WithBackoff(noRetry)), Getenv: func(string) string { return "" }}
	subs, err := res.Release.Subjects()
	if err != nil {
		t.Fatal(err)
	}
	_, err = attest.SignRelease(ctx, p, res.Release)
	if err == nil || !strings.Contains(err.Error(), "push referrer") || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("err = %v", err)
	}
	store := attach.New(res.Client)
	for _, sub := range subs {
		f, err := store.Find(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Referrers) != 0 {
			t.Fatalf("%s has %d referrers after a refused push", sub, len(f.Referrers))
		}
	}
	refusing.Store(false)
	rep, err := attest.SignRelease(ctx, p, res.Release)
	if err != nil {
		t.Fatal(err)
	}
	if count(rep, "attached") != len(subs) {
		t.Fatalf("re-run attached %d, want %d", count(rep, "attached"), len(subs))
	}
}

// isReferrer peeks at a manifest PUT body for a subject field.
func isReferrer(r *http.Request) bool {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return false
	}
	r.Body.Close()
	body := buf.Bytes()
	r.Body = readCloser{bytes.NewReader(body)}
	var m struct {
		Subject json.RawMessage `json:"subject"`
	}
	return json.Unmarshal(body, &m) == nil && len(m.Subject) > 0
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

var noRetry = remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}

// A statement that does not name the image is refused before signing.
func TestAttestRefusesForeignSubject(t *testing.T) {
	a := &attest.Attester{Storage: attach.Both}
	sub, _ := name.NewDigest("127.0.0.1:1/org/app@sha256:" + strings.Repeat("a", 64))
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.Repeat("b", 64) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	_, err := a.Attest(context.Background(), []attest.Statement{{PredicateType: "https://slsa.dev/provenance/v1", Payload: stmt, AttachTo: []name.Digest{sub}}})
	if err == nil || !strings.Contains(err.Error(), "does not name") {
		t.Fatalf("err = %v", err)
	}
	if errs.ExitCode(err) == 0 {
		t.Fatal("exit code 0 for a refused attestation")
	}
}

func TestParseTypes(t *testing.T) {
	got, err := attest.ParseTypes(nil)
	if err != nil || len(got) != 3 {
		t.Fatalf("default types = %v, %v", got, err)
	}
	if _, err := attest.ParseTypes([]string{"slsaprovenance"}); err == nil || !strings.Contains(err.Error(), "slsaprovenance1") {
		t.Errorf("alias hint: %v", err)
	}
	if _, err := attest.ParseTypes([]string{"sarif"}); errs.ExitCode(err) != 2 {
		t.Errorf("unknown type: %v", err)
	}
}

// checkSameJSON asserts the attested predicate is the SBOM file written by
// the sbom stage.
func checkSameJSON(t *testing.T, files []string, suffix string, pred any) {
	t.Helper()
	for _, f := range files {
		if !strings.HasSuffix(f, suffix) {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want, got any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		pj, err := protojson.Marshal(pred.(proto.Message))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(pj, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("attested SPDX predicate differs from %s", f)
		}
		return
	}
	t.Fatalf("no %s file among %v", suffix, files)
}
