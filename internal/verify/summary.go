package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/policy"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/vsa"
	"github.com/harden-dev/harden/internal/wording"
)

// githubIssuer is the OIDC issuer of GitHub Actions workflow identities.
const githubIssuer = "https://token.actions.githubusercontent.com"

// policyDigest is the sha256 of everything that decided this verdict:
// the Rego modules (name and content) and every option that changes a
// check. Two verifications with the same digest applied the same policy.
func policyDigest(o Options, e *policy.Engine, key []byte) string {
	uid := o.ExpectUID
	if uid == 0 {
		uid = 10001
	}
	keySum := ""
	if key != nil {
		s := sha256.Sum256(key)
		keySum = hex.EncodeToString(s[:])
	}
	doc := map[string]any{
		"modules": e.Sums, "identity": o.Identity, "key": keySum, "expectUid": uid,
		"builderId": o.BuilderID, "sourceRepo": o.SourceRepo, "sourceRef": o.SourceRef,
		"insecureIgnoreTlog": o.InsecureIgnoreTlog, "platforms": o.Platforms, "vuln": o.Vuln,
	}
	b, _ := json.Marshal(doc) // maps encode with sorted keys
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Level is the SLSA build level harden can claim for a verified image
// (docs/vsa.md): L1 when its provenance verified; L2 when, in addition,
// that provenance was signed by a GitHub Actions workflow identity, i.e.
// made and signed on a hosted build platform. Never L3: the signing
// token is reachable from the job's own steps.
func (r *Report) Level() string {
	if !r.Verified {
		return vsa.Failed
	}
	level := vsa.Levels[0]
	for _, a := range r.Input.Attestations {
		if a.PredicateType != SLSAPredicateType {
			continue
		}
		level = vsa.Levels[1]
		if a.Identity.Issuer == githubIssuer {
			return vsa.Levels[2]
		}
	}
	return level
}

// Summary is the VSA of this verification: its verdict on the image and
// every platform manifest, the policy digest, and every signature and
// attestation the verdict relied on. AttachTo is the index and each
// platform manifest.
func (r *Report) Summary(hardenVersion string, now time.Time) (attest.Statement, error) {
	in := r.Input
	if in == nil {
		return attest.Statement{}, fmt.Errorf("the verification of %s has no result to summarize", r.Image)
	}
	repo, err := name.NewRepository(in.Image.Repository)
	if err != nil {
		return attest.Statement{}, fmt.Errorf("summary: repository %q: %w", in.Image.Repository, err)
	}
	st := vsa.Statement{Predicate: vsa.Predicate{
		Verifier:           vsa.Verifier{ID: vsa.VerifierID, Version: map[string]string{"harden": hardenVersion}},
		TimeVerified:       now.UTC().Truncate(time.Second),
		ResourceURI:        vsa.ResourceURI(repo.String(), r.Digest),
		Policy:             vsa.Descriptor{URI: vsa.PolicyURI, Digest: map[string]string{"sha256": strings.TrimPrefix(r.PolicyDigest, "sha256:")}},
		InputAttestations:  []vsa.Descriptor{},
		VerificationResult: vsa.Passed,
		VerifiedLevels:     []string{r.Level()},
		SlsaVersion:        "1.0",
	}}
	if !r.Verified {
		st.Predicate.VerificationResult = vsa.Failed
	}
	attachTo := []name.Digest{repo.Digest(r.Digest)}
	st.Subject = append(st.Subject, vsa.Subject{Name: repo.String(), Digest: map[string]string{"sha256": strings.TrimPrefix(r.Digest, "sha256:")}})
	for _, p := range in.Image.Platforms {
		if p.Digest == r.Digest {
			continue // an image named by its own digest
		}
		attachTo = append(attachTo, repo.Digest(p.Digest))
		st.Subject = append(st.Subject, vsa.Subject{Name: repo.String(), Digest: map[string]string{"sha256": strings.TrimPrefix(p.Digest, "sha256:")},
			Annotations: map[string]string{"platform": p.Platform}})
	}
	seen := map[string]bool{}
	for _, v := range slices.Concat(in.Signatures, in.Attestations) {
		if v.PredicateType == vsa.PredicateType || seen[v.Entry] || !strings.HasPrefix(v.Entry, "sha256:") {
			continue
		}
		seen[v.Entry] = true
		st.Predicate.InputAttestations = append(st.Predicate.InputAttestations,
			vsa.Descriptor{URI: repo.String() + "@" + v.Entry, Digest: map[string]string{"sha256": strings.TrimPrefix(v.Entry, "sha256:")}})
	}
	slices.SortFunc(st.Predicate.InputAttestations, func(a, b vsa.Descriptor) int { return strings.Compare(a.URI, b.URI) })
	b, err := st.Marshal()
	if err != nil {
		return attest.Statement{}, err
	}
	return attest.Statement{PredicateType: vsa.PredicateType, Payload: b, AttachTo: attachTo}, nil
}

// SummaryOptions say how to sign and store a VSA.
type SummaryOptions struct {
	Signer        *sign.Signer
	Storage       attach.Storage
	HardenVersion string
	Now           time.Time
	Log           func(format string, args ...any)
}

// AttestSummary signs the VSA of rep with the verifier's own identity and
// attaches it to the index and every platform manifest. A failed
// verification is recorded as FAILED.
func AttestSummary(ctx context.Context, rep *Report, o Options, so SummaryOptions) (*attest.Report, error) {
	st, err := rep.Summary(so.HardenVersion, so.Now)
	if err != nil {
		return nil, err
	}
	a := &attest.Attester{Signer: so.Signer, Store: attach.New(o.Registry), Storage: so.Storage, Log: so.Log}
	return a.Attest(ctx, []attest.Statement{st})
}

// fromSummary verifies the image by a VSA instead of every entry: it
// accepts the newest VSA on the image's own digest, signed by the
// expected identity, that meets o.Summary; every other VSA is reported
// with the reason it was refused.
func fromSummary(rep *Report, o Options, root *target, now time.Time) {
	req := vsa.Requirement{MaxAge: o.Summary.MaxAge, Level: o.Summary.Level, PolicyDigest: o.Summary.PolicyDigest, Now: now}
	c := rep.add("summary", root.ref.DigestStr(), false, "")
	var reasons []string
	for _, a := range root.atts { // newest first
		if a.PredicateType != vsa.PredicateType {
			continue
		}
		raw, err := json.Marshal(a.Statement)
		cand := Candidate{Layout: a.Layout, Entry: a.Entry, Signer: who(a)}
		if !a.signedAt.IsZero() {
			cand.SignedAt = a.signedAt.UTC().Format(time.RFC3339)
		}
		var st *vsa.Statement
		if err == nil {
			st, err = vsa.Parse(raw)
		}
		switch {
		case err != nil:
			cand.Reason = err.Error()
		default:
			cand.Reason = st.Check(root.ref.DigestStr(), req)
		}
		cand.Accepted = cand.Reason == ""
		c.Candidates = append(c.Candidates, cand)
		if cand.Accepted && !c.Passed {
			c.Passed, c.Signer = true, cand.Signer
			c.Reason = fmt.Sprintf("a VSA from %s says %s at %s (%s, policy sha256:%s…); the entries were not re-verified",
				cand.Signer, st.Predicate.VerificationResult, st.Predicate.TimeVerified.UTC().Format(time.RFC3339),
				strings.Join(st.Predicate.VerifiedLevels, ", "), short(st.Predicate.Policy.Digest["sha256"]))
		}
		if !cand.Accepted {
			reasons = append(reasons, fmt.Sprintf("%s entry %s: %s", a.Layout, short(a.Entry), cand.Reason))
		}
		// The verifier's latest word on this digest stands: a FAILED
		// verdict is not outvoted by an older PASSED one.
		if !c.Passed && st != nil && st.Predicate.VerificationResult == vsa.Failed && st.About(root.ref.DigestStr()) {
			c.Reason = fmt.Sprintf("the newest VSA from %s about this image records %s at %s; an older PASSED one does not outvote it",
				cand.Signer, vsa.Failed, st.Predicate.TimeVerified.UTC().Format(time.RFC3339))
			return
		}
	}
	if c.Passed {
		return
	}
	switch {
	case len(reasons) > 0:
		c.Reason = "no acceptable VSA from the expected verifier: " + strings.Join(reasons, "; ")
	case len(root.rejected) > 0:
		c.Reason = fmt.Sprintf("no VSA signed by the expected verifier (%s by other signers or not verifiable); verify without --vsa-from, or ask the verifier to attest", wording.Count(len(root.rejected), "entry", "entries"))
	default:
		c.Reason = "the image carries no VSA; verify without --vsa-from, or run harden verify --attest-vsa as the verifier"
	}
}
