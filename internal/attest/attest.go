// Package attest signs images and in-toto statements and attaches the
// results to every subject in the configured storage layouts. It signs
// everything first, verifies what it signed, and only then writes to the
// registry, blobs before manifests, so no entry is ever visible half
// written; entries an earlier run already attached are recognised
// (verified, same identity, same payload) and not repeated.
package attest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"time"

	"github.com/google/go-containerregistry/pkg/name"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/sign"
)

// CosignSignPredicateType is the predicate of bundle-format image
// signatures, as cosign v3 writes and verifies them.
const CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// Statement is one in-toto statement to sign and where to attach it.
type Statement struct {
	PredicateType string
	Payload       []byte        // the statement JSON, exactly as signed
	AttachTo      []name.Digest // each must be a subject of the statement
}

// Attester signs and attaches with one signer and one store.
type Attester struct {
	Signer  *sign.Signer
	Store   *attach.Store
	Storage attach.Storage
	Now     func() time.Time
	Log     func(format string, args ...any)
	// Jobs bounds concurrent signing requests; 0 = 8.
	Jobs int
	// KeepFacts makes an attestation count as present when the subject
	// already carries one of the same predicate type by this signer,
	// even with other content: the fact (this digest's provenance, SBOM,
	// scan) was attested by an earlier release of the same image, and a
	// second one would only pile up. harden release sets it; harden
	// attest, asked explicitly, attaches whatever differs.
	KeepFacts bool
}

// Entry reports one attachment.
type Entry struct {
	Subject       string `json:"subject"`
	Kind          string `json:"kind"` // "signature" or "attestation"
	PredicateType string `json:"predicateType,omitempty"`
	Layout        string `json:"layout"` // "referrers" or "legacy"
	Status        string `json:"status"` // "attached" or "present"
	Referrer      string `json:"referrer,omitempty"`
	LogIndex      *int64 `json:"logIndex,omitempty"`
}

// Report is what Sign or Attest did.
type Report struct {
	Identity sign.Identity `json:"identity"`
	Storage  string        `json:"storage"`
	Entries  []Entry       `json:"entries"`
}

// job is one signing operation and the attachments it feeds.
type job struct {
	kind     string // "signature" or "attestation"
	predType string
	payload  []byte // DSSE statement or simple-signing payload
	dsse     bool   // false: message signature (legacy .sig)
	targets  []name.Digest
	legacy   bool // destined for legacy layout (else referrers)
	bundle   *bundle.Bundle
	tsLegacy []byte // .att timestamp over the envelope
	present  map[string]bool
}

// Sign signs each subject (an image manifest or index) in every layout.
func (a *Attester) Sign(ctx context.Context, subjects []name.Digest) (*Report, error) {
	var jobs []*job
	for _, sub := range subjects {
		if a.Storage.WantsReferrers() {
			st, err := signStatement(sub)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, &job{kind: "signature", predType: CosignSignPredicateType, payload: st, dsse: true, targets: []name.Digest{sub}})
		}
		if a.Storage.WantsLegacy() {
			p, err := payload.Cosign{Image: sub}.MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("simple-signing payload for %s: %w", sub, err)
			}
			jobs = append(jobs, &job{kind: "signature", payload: p, targets: []name.Digest{sub}, legacy: true})
		}
	}
	return a.run(ctx, jobs)
}

// Attest signs each statement once and attaches it to its subjects.
func (a *Attester) Attest(ctx context.Context, stmts []Statement) (*Report, error) {
	var jobs []*job
	for _, st := range stmts {
		if err := checkSubjects(st); err != nil {
			return nil, err
		}
		if a.Storage.WantsReferrers() {
			jobs = append(jobs, &job{kind: "attestation", predType: st.PredicateType, payload: st.Payload, dsse: true, targets: st.AttachTo})
		}
		if a.Storage.WantsLegacy() {
			jobs = append(jobs, &job{kind: "attestation", predType: st.PredicateType, payload: st.Payload, dsse: true, targets: st.AttachTo, legacy: true})
		}
	}
	return a.run(ctx, jobs)
}

func (a *Attester) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
	}
}

func (a *Attester) run(ctx context.Context, jobs []*job) (*Report, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	// 1. What is already there?
	found := map[string]*attach.Found{}
	var order []name.Digest
	for _, j := range jobs {
		for _, t := range j.targets {
			if _, ok := found[t.String()]; !ok {
				found[t.String()] = nil
				order = append(order, t)
			}
		}
	}
	fs := make([]*attach.Found, len(order))
	// Not errgroup.WithContext: what Find returns reads lazily with the
	// context it was given, which must outlive this group.
	var fg errgroup.Group
	for i, t := range order {
		fg.Go(func() error {
			f, err := a.Store.Find(ctx, t)
			fs[i] = f
			return err
		})
	}
	if err := fg.Wait(); err != nil {
		return nil, err
	}
	for i, t := range order {
		found[t.String()] = fs[i]
	}
	for _, j := range jobs {
		j.present = map[string]bool{}
		for _, t := range j.targets {
			if a.isPresent(j, found[t.String()]) {
				j.present[t.String()] = true
			}
		}
	}
	// 2. Sign what is missing somewhere, concurrently; verify each result.
	n := a.Jobs
	if n == 0 {
		n = 8
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for _, j := range jobs {
		if len(j.present) == len(j.targets) {
			continue
		}
		g.Go(func() error { return a.signJob(gctx, j) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// 3. Write: referrers, then legacy tags, one subject at a time.
	rep := &Report{Identity: a.Signer.Identity(), Storage: string(a.Storage)}
	created := now().UTC()
	var legacySigs, legacyAtts = map[string][]attach.LegacyLayer{}, map[string][]attach.LegacyLayer{}
	subjects := map[string]name.Digest{}
	for _, j := range jobs {
		for _, t := range j.targets {
			e := Entry{Subject: t.String(), Kind: j.kind, PredicateType: j.predType, Layout: "referrers", Status: "present"}
			if j.legacy {
				e.Layout = "legacy"
			}
			if j.present[t.String()] {
				rep.Entries = append(rep.Entries, e)
				continue
			}
			e.Status = "attached"
			e.LogIndex = logIndex(j.bundle)
			if !j.legacy {
				raw, err := sign.MarshalBundle(j.bundle)
				if err != nil {
					return nil, err
				}
				h, err := a.Store.PutReferrer(ctx, t, attach.Referrer{Bundle: raw, Content: attach.ContentDSSE, PredicateType: j.predType, Created: created})
				if err != nil {
					return nil, err
				}
				e.Referrer = h.String()
				a.logf("%s: %s attached as referrer %s", t.DigestStr(), describe(j), h)
			} else {
				l, err := a.legacyLayer(j)
				if err != nil {
					return nil, err
				}
				subjects[t.String()] = t
				if j.dsse {
					legacyAtts[t.String()] = append(legacyAtts[t.String()], l)
				} else {
					legacySigs[t.String()] = append(legacySigs[t.String()], l)
				}
			}
			rep.Entries = append(rep.Entries, e)
		}
	}
	keys := make([]string, 0, len(subjects))
	for k := range subjects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t := subjects[k]
		if ls := legacySigs[k]; len(ls) > 0 {
			if err := a.Store.PutLegacy(ctx, t, false, ls, a.legacyDupe(false)); err != nil {
				return nil, err
			}
			a.logf("%s: %d cosign signature(s) pushed to the .sig tag", t.DigestStr(), len(ls))
		}
		if ls := legacyAtts[k]; len(ls) > 0 {
			if err := a.Store.PutLegacy(ctx, t, true, ls, a.legacyDupe(true)); err != nil {
				return nil, err
			}
			a.logf("%s: %d cosign attestation(s) pushed to the .att tag", t.DigestStr(), len(ls))
		}
	}
	return rep, nil
}

func describe(j *job) string {
	if j.kind == "signature" {
		return "signature"
	}
	return "attestation " + j.predType
}

func (a *Attester) signJob(ctx context.Context, j *job) error {
	var err error
	if j.dsse {
		j.bundle, err = a.Signer.DSSE(ctx, InTotoPayloadType, j.payload)
	} else {
		j.bundle, err = a.Signer.Message(ctx, j.payload)
	}
	if err != nil {
		return fmt.Errorf("sign %s for %s: %w", describe(j), j.targets[0], err)
	}
	var artifact []byte
	if !j.dsse {
		artifact = j.payload
	}
	if _, err := a.Signer.Check(j.bundle, artifact); err != nil {
		return fmt.Errorf("the %s just signed for %s does not verify; nothing was attached: %w", describe(j), j.targets[0], err)
	}
	if j.legacy && j.dsse && a.Signer.HasTimestamps() {
		env, err := envelopeJSON(j.bundle)
		if err != nil {
			return err
		}
		if j.tsLegacy, err = a.Signer.Timestamp(ctx, env); err != nil {
			return fmt.Errorf("timestamp the cosign attestation for %s: %w", j.targets[0], err)
		}
	}
	return nil
}

// isPresent reports whether subject f already carries a valid entry with
// this job's payload, made by this signer's identity.
func (a *Attester) isPresent(j *job, f *attach.Found) bool {
	if !j.legacy {
		// The payload comparison decides; the list's annotations are
		// whoever-pushed-them's and are not consulted.
		for _, r := range f.Referrers {
			var b bundle.Bundle
			if err := b.UnmarshalJSON(r.Bundle); err != nil {
				continue
			}
			env, err := b.Envelope()
			if err != nil || env == nil {
				continue
			}
			raw, err := env.DecodeB64Payload()
			if err != nil || !a.sameFact(j.dsse, raw, j.payload) {
				continue
			}
			if _, err := a.Signer.Check(&b, nil); err == nil {
				return true
			}
		}
		return false
	}
	layers := f.Signatures
	if j.dsse {
		layers = f.Attestations
	}
	fresh, err := static.NewSignature(j.payload, "")
	if err != nil {
		return false
	}
	for _, l := range layers {
		if a.legacyDupe(j.dsse)(l, fresh) {
			return true
		}
	}
	return false
}

// sameFact reports whether an existing payload stands for the new one:
// byte-equal, or with KeepFacts, an in-toto statement of the same
// predicate type about the same subjects.
func (a *Attester) sameFact(dsse bool, got, want []byte) bool {
	if bytes.Equal(got, want) {
		return true
	}
	if !a.KeepFacts || !dsse {
		return false
	}
	var g, w struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || g.PredicateType == "" {
		return false
	}
	return g.PredicateType == w.PredicateType && fmt.Sprint(g.Subject) == fmt.Sprint(w.Subject)
}

// signStatement is the in-toto statement cosign v3 signs for an image.
func signStatement(sub name.Digest) ([]byte, error) {
	h, err := hashOf(sub)
	if err != nil {
		return nil, err
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Digest: map[string]string{"sha256": h}}},
		PredicateType: CosignSignPredicateType,
		Predicate:     &structpb.Struct{},
	}
	raw, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode signature statement: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hashOf(d name.Digest) (string, error) {
	const p = "sha256:"
	s := d.DigestStr()
	if len(s) != len(p)+64 || s[:len(p)] != p {
		return "", fmt.Errorf("%s: only sha256 digests are supported", d)
	}
	if _, err := hex.DecodeString(s[len(p):]); err != nil {
		return "", fmt.Errorf("%s: bad digest", d)
	}
	return s[len(p):], nil
}

// checkSubjects refuses to attach a statement to an image it does not
// name as a subject.
func checkSubjects(st Statement) error {
	var s struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(st.Payload, &s); err != nil {
		return fmt.Errorf("statement %s is not JSON: %w", st.PredicateType, err)
	}
	if s.PredicateType != st.PredicateType {
		return fmt.Errorf("statement says predicateType %q, expected %q", s.PredicateType, st.PredicateType)
	}
	have := map[string]bool{}
	for _, sub := range s.Subject {
		have["sha256:"+sub.Digest["sha256"]] = true
	}
	for _, t := range st.AttachTo {
		if !have[t.DigestStr()] {
			return fmt.Errorf("the %s statement does not name %s as a subject; refusing to attach it there", st.PredicateType, t.DigestStr())
		}
	}
	if len(st.AttachTo) == 0 {
		return fmt.Errorf("the %s statement has nowhere to attach", st.PredicateType)
	}
	return nil
}

func logIndex(b *bundle.Bundle) *int64 {
	if b == nil {
		return nil
	}
	es, err := b.TlogEntries()
	if err != nil || len(es) == 0 {
		return nil
	}
	i := es[0].LogIndex()
	return &i
}
