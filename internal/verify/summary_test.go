package verify_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/testtools"
	"github.com/harden-dev/harden/internal/verify"
	"github.com/harden-dev/harden/internal/vsa"
)

const verifier = "verifier@example.com"

// A verifier verifies once and signs a VSA; consumers then accept the
// image by that VSA alone. Each way a VSA can be wrong is refused, in
// both layouts.
func TestSummary(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	vs, err := attest.NewSigner(ctx, attest.SignerParams{IdentityToken: w.st.Issuer.Token(t, verifier), TrustedRoot: w.st.TrustedRootPath,
		SigningConfig: w.st.SigningConfigPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	byVerifier := func(o *verify.Options) { o.Identity.Subject = verifier }
	now := time.Now()
	for _, storage := range []attach.Storage{attach.Referrers, attach.Legacy} {
		t.Run(string(storage), func(t *testing.T) {
			// A released image, verified in full, then summarized.
			rel, subs := w.copyImage(t, nil)
			w.release(t, rel, subs, attach.Both, nil)
			ignore := func(o *verify.Options) { o.InsecureIgnoreTlog = storage == attach.Legacy }
			full, err := w.verify(t, rel.Image, ignore)
			if err != nil || !full.Verified {
				t.Fatalf("full verification: %v %s", err, failed(full))
			}
			if !vsa.IsDigest(full.PolicyDigest) {
				t.Fatalf("policy digest %q", full.PolicyDigest)
			}
			ar, err := verify.AttestSummary(ctx, full, verify.Options{Registry: w.res.Client}, verify.SummaryOptions{Signer: vs, Storage: storage, HardenVersion: "test", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if len(ar.Entries) != len(subs) {
				t.Fatalf("VSA attached %d times, want once per subject (%d)", len(ar.Entries), len(subs))
			}
			if again, err := w.verify(t, rel.Image, ignore); err != nil || !again.Verified || again.PolicyDigest != full.PolicyDigest {
				t.Errorf("a full verification after the VSA: %v %s, policy %s then %s", err, failed(again), full.PolicyDigest, again.PolicyDigest)
			}
			if other, err := w.verify(t, rel.Image, func(o *verify.Options) { ignore(o); o.ExpectUID = 1000 }); err != nil || other.PolicyDigest == full.PolicyDigest {
				t.Errorf("another --expect-uid, same policy digest %s (%v)", full.PolicyDigest, err)
			}
			st, err := full.Summary("test", now)
			if err != nil {
				t.Fatal(err)
			}
			var doc vsa.Statement
			if err := json.Unmarshal(st.Payload, &doc); err != nil {
				t.Fatal(err)
			}
			p := doc.Predicate
			if p.VerificationResult != vsa.Passed || p.VerifiedLevels[0] != "SLSA_BUILD_LEVEL_1" || len(p.InputAttestations) < 4 || len(doc.Subject) != len(subs) ||
				!strings.HasPrefix(p.ResourceURI, "pkg:oci/") || p.Policy.Digest["sha256"] != strings.TrimPrefix(full.PolicyDigest, "sha256:") {
				t.Errorf("VSA predicate %+v", p)
			}

			fast := func(req verify.SummaryRequirement, mods ...func(*verify.Options)) *verify.Report {
				t.Helper()
				r, err := w.verify(t, rel.Image, func(o *verify.Options) {
					ignore(o)
					o.Summary = &req
					for _, m := range mods {
						m(o)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			day := verify.SummaryRequirement{MaxAge: 24 * time.Hour}
			if r := fast(day, byVerifier); !r.Verified || r.Checks[len(r.Checks)-1].Name != "summary" {
				t.Fatalf("a fresh VSA from the verifier was refused: %+v", r.Checks)
			}
			if r := fast(verify.SummaryRequirement{MaxAge: day.MaxAge, PolicyDigest: full.PolicyDigest, Level: "SLSA_BUILD_LEVEL_1"}, byVerifier); !r.Verified {
				t.Errorf("the exact policy and level were refused: %s", failed(r))
			}
			for _, c := range []struct {
				name   string
				req    verify.SummaryRequirement
				mod    func(*verify.Options)
				reason string
			}{
				{"another verifier", day, nil, "no VSA signed by the expected verifier"},
				{"stale", verify.SummaryRequirement{MaxAge: time.Minute}, func(o *verify.Options) { o.Now = func() time.Time { return now.Add(time.Hour) } }, "older than the limit"},
				{"higher level", verify.SummaryRequirement{MaxAge: day.MaxAge, Level: "SLSA_BUILD_LEVEL_2"}, nil, "do not reach SLSA_BUILD_LEVEL_2"},
				{"other policy", verify.SummaryRequirement{MaxAge: day.MaxAge, PolicyDigest: "sha256:" + strings.Repeat("0", 64)}, nil, "not the required"},
			} {
				mods := []func(*verify.Options){byVerifier}
				if c.mod != nil {
					mods = append(mods, c.mod)
				}
				if c.name == "another verifier" {
					mods = nil // the release signer, who signed no VSA
				}
				r := fast(c.req, mods...)
				wantFail(t, r, nil, "summary", c.reason)
			}

			// A later FAILED verdict on the same image stands; the
			// older PASSED one does not outvote it.
			time.Sleep(1100 * time.Millisecond) // a signing time of its own
			revoked := *full
			revoked.Verified = false
			if _, err := verify.AttestSummary(ctx, &revoked, verify.Options{Registry: w.res.Client}, verify.SummaryOptions{Signer: vs, Storage: storage, HardenVersion: "test", Now: now.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
			wantFail(t, fast(day, byVerifier), nil, "summary", "does not outvote")

			// A FAILED verification is summarized as FAILED and never
			// admits; a VSA about another image does not either.
			bad, badSubs := w.copyImage(t, otherIndex(t, w.res.Index))
			failedRep, err := w.verify(t, bad.Image, ignore)
			if err != nil || failedRep.Verified {
				t.Fatalf("an unsigned image verified: %v", err)
			}
			if _, err := verify.AttestSummary(ctx, failedRep, verify.Options{Registry: w.res.Client}, verify.SummaryOptions{Signer: vs, Storage: storage, HardenVersion: "test", Now: now}); err != nil {
				t.Fatal(err)
			}
			r, err := w.verify(t, bad.Image, func(o *verify.Options) { ignore(o); byVerifier(o); o.Summary = &day })
			wantFail(t, r, err, "summary", "records FAILED")
			other, err := full.Summary("test", now)
			if err != nil {
				t.Fatal(err)
			}
			other.AttachTo = badSubs[:1] // the good image's VSA, attached to another
			if _, err := (&attest.Attester{Signer: vs, Store: attach.New(w.res.Client), Storage: storage}).Attest(ctx, []attest.Statement{other}); err == nil {
				t.Fatal("a VSA whose subjects do not name the image was attached")
			}
		})
	}
}

// A key-signed VSA from harden passes slsa-verifier's verify-vsa (built
// from the module proxy by make engines), and a wrong level or digest
// does not.
func TestSummarySLSAVerifier(t *testing.T) {
	bin := filepath.Join(os.Getenv(testtools.EnvToolsDir), "slsa-verifier")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("HARDEN_REQUIRE_E2E") == "1" {
			t.Fatalf("slsa-verifier is not built (make engines): %v", err)
		}
		t.Skipf("skipping: slsa-verifier is not in $%s (make engines builds it): %v", testtools.EnvToolsDir, err)
	}
	w := newWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	kp, err := sign.GenerateKey(filepath.Join(dir, "verifier"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := attest.NewSigner(ctx, attest.SignerParams{KeyPath: kp.Private, TrustedRoot: w.st.TrustedRootPath, SigningConfig: w.st.SigningConfigPath,
		Getenv: func(k string) string { return map[string]string{sign.PasswordEnv: "pw"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	rel, subs := w.copyImage(t, nil)
	w.release(t, rel, subs, attach.Both, nil)
	full, err := w.verify(t, rel.Image, nil)
	if err != nil || !full.Verified {
		t.Fatalf("full verification: %v %s", err, failed(full))
	}
	if _, err := verify.AttestSummary(ctx, full, verify.Options{Registry: w.res.Client}, verify.SummaryOptions{Signer: ks, Storage: attach.Legacy, HardenVersion: "test", Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// cosign's .att layer is the DSSE envelope slsa-verifier reads.
	f, err := attach.New(w.res.Client).Find(ctx, subs[0])
	if err != nil {
		t.Fatal(err)
	}
	envPath := filepath.Join(dir, "vsa.json")
	var pred vsa.Predicate
	for _, a := range f.Attestations {
		env, err := a.Payload()
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Payload []byte }
		if json.Unmarshal(env, &e) != nil {
			continue
		}
		if st, err := vsa.Parse(e.Payload); err == nil {
			pred = st.Predicate
			if err := os.WriteFile(envPath, env, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pred.ResourceURI == "" {
		t.Fatal("no VSA among the legacy attestations")
	}
	run := func(digest, level string) (string, error) {
		out, err := exec.Command(bin, "verify-vsa", "--attestation-path", envPath, "--subject-digest", digest,
			"--verifier-id", vsa.VerifierID, "--resource-uri", pred.ResourceURI, "--verified-level", level, "--public-key-path", kp.Public).CombinedOutput()
		return string(out), err
	}
	if out, err := run(subs[0].DigestStr(), "SLSA_BUILD_LEVEL_1"); err != nil || !strings.Contains(out, "PASSED") {
		t.Fatalf("slsa-verifier refused harden's VSA: %v\n%s", err, out)
	}
	if out, err := run(subs[1].DigestStr(), "SLSA_BUILD_LEVEL_1"); err != nil {
		t.Errorf("slsa-verifier refused the platform subject: %v\n%s", err, out)
	}
	if out, err := run(subs[0].DigestStr(), "SLSA_BUILD_LEVEL_2"); err == nil {
		t.Errorf("slsa-verifier accepted a level the VSA does not record:\n%s", out)
	}
	if out, err := run("sha256:"+strings.Repeat("0", 64), "SLSA_BUILD_LEVEL_1"); err == nil {
		t.Errorf("slsa-verifier accepted the VSA for another digest:\n%s", out)
	}
}
