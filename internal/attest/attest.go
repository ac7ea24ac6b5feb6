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
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
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
	// Jobs bounds concurrent signing requests; 0 = 32.
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
	jobs, err := a.signJobs(subjects)
	if err != nil {
		return nil, err
	}
	return a.run(ctx, jobs)
}

// Attest signs each statement once and attaches it to its subjects.
func (a *Attester) Attest(ctx context.Context, stmts []Statement) (*Report, error) {
	jobs, err := a.attestJobs(stmts)
	if err != nil {
		return nil, err
	}
	return a.run(ctx, jobs)
}

// SignAndAttest is Sign and Attest in one pass, returning the reports
// each would have: every entry is signed at once, so a log that
// publishes its checkpoints periodically (Rekor v2) is waited for once
// rather than twice. Nothing is written unless everything signed and
// verified.
func (a *Attester) SignAndAttest(ctx context.Context, subjects []name.Digest, stmts []Statement) (signs, atts *Report, err error) {
	sj, err := a.signJobs(subjects)
	if err != nil {
		return nil, nil, err
	}
	aj, err := a.attestJobs(stmts)
	if err != nil {
		return nil, nil, err
	}
	rep, err := a.run(ctx, append(sj, aj...))
	if err != nil {
		return nil, nil, err
	}
	signs = &Report{Identity: rep.Identity, Storage: rep.Storage}
	atts = &Report{Identity: rep.Identity, Storage: rep.Storage}
	for _, e := range rep.Entries {
		if e.Kind == "signature" {
			signs.Entries = append(signs.Entries, e)
		} else {
			atts.Entries = append(atts.Entries, e)
		}
	}
	return signs, atts, nil
}

func (a *Attester) signJobs(subjects []name.Digest) ([]*job, error) {
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
	return jobs, nil
}

func (a *Attester) attestJobs(stmts []Statement) ([]*job, error) {
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
	return jobs, nil
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
	// 2. Sign what is missing somewhere, concurrently (all of it at once,
	// so that the log integrates every entry in one batch); verify each
	// result.
	n := a.Jobs
	if n == 0 {
		n = 32
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
	// 3. Write: each subject's referrers in order, then its legacy tags.
	// Subjects are independent and are written concurrently; what is
	// reported and logged does not depend on which finishes first.
	rep := &Report{Identity: a.Signer.Identity(), Storage: string(a.Storage)}
	created := now().UTC()
	writes := map[string]*subjectWrites{}
	var refs []*referrerWrite
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
			w := writes[t.String()]
			if w == nil {
				w = &subjectWrites{subject: t}
				writes[t.String()] = w
			}
			if !j.legacy {
				raw, err := sign.MarshalBundle(j.bundle)
				if err != nil {
					return nil, err
				}
				rw := &referrerWrite{job: j, subject: t, entry: len(rep.Entries),
					ref: attach.Referrer{Bundle: raw, Content: attach.ContentDSSE, PredicateType: j.predType, Created: created}}
				w.refs = append(w.refs, rw)
				refs = append(refs, rw)
			} else {
				l, err := a.legacyLayer(j)
				if err != nil {
					return nil, err
				}
				if j.dsse {
					w.atts = append(w.atts, l)
				} else {
					w.sigs = append(w.sigs, l)
				}
			}
			rep.Entries = append(rep.Entries, e)
		}
	}
	keys := make([]string, 0, len(writes))
	for k := range writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var wg sync.WaitGroup
	for _, k := range keys {
		w := writes[k]
		if len(w.refs) > 0 {
			wg.Go(func() { a.putReferrers(ctx, w) })
		}
		if len(w.sigs) > 0 {
			wg.Go(func() { w.sigErr = a.Store.PutLegacy(ctx, w.subject, false, w.sigs, a.legacyDupe(false)) })
		}
		if len(w.atts) > 0 {
			wg.Go(func() { w.attErr = a.Store.PutLegacy(ctx, w.subject, true, w.atts, a.legacyDupe(true)) })
		}
	}
	wg.Wait()
	// Report as a one-at-a-time write would have: referrers in job
	// order, then legacy tags by subject; the first failure in that
	// order is the error.
	for _, rw := range refs {
		if rw.err != nil {
			return nil, rw.err
		}
		if !rw.done {
			continue
		}
		rep.Entries[rw.entry].Referrer = rw.digest.String()
		a.logf("%s: %s attached as referrer %s", rw.subject.DigestStr(), describe(rw.job), rw.digest)
	}
	for _, k := range keys {
		w := writes[k]
		if w.sigErr != nil {
			return nil, w.sigErr
		}
		if len(w.sigs) > 0 {
			a.logf("%s: %d cosign signature(s) pushed to the .sig tag", w.subject.DigestStr(), len(w.sigs))
		}
		if w.attErr != nil {
			return nil, w.attErr
		}
		if len(w.atts) > 0 {
			a.logf("%s: %d cosign attestation(s) pushed to the .att tag", w.subject.DigestStr(), len(w.atts))
		}
	}
	return rep, nil
}

// subjectWrites is what one subject receives: referrers, written in
// order, and the entries of its .sig and .att tags.
type subjectWrites struct {
	subject        name.Digest
	refs           []*referrerWrite
	sigs, atts     []attach.LegacyLayer
	sigErr, attErr error
}

// referrerWrite is one referrer to push and how its push went.
type referrerWrite struct {
	job     *job
	subject name.Digest
	entry   int // index in Report.Entries
	ref     attach.Referrer
	digest  v1.Hash
	done    bool
	err     error
}

// putReferrers pushes a subject's referrers in order, stopping at the
// first failure.
func (a *Attester) putReferrers(ctx context.Context, w *subjectWrites) {
	rs := make([]attach.Referrer, len(w.refs))
	for i, rw := range w.refs {
		rs[i] = rw.ref
	}
	hs, err := a.Store.PutReferrers(ctx, w.subject, rs)
	for i, h := range hs {
		w.refs[i].digest, w.refs[i].done = h, true
	}
	if err != nil {
		w.refs[len(hs)].err = err
	}
}

func describe(j *job) string {
	if j.kind == "signature" {
		return "signature"
	}
	return "attestation " + j.predType
}

func (a *Attester) signJob(ctx context.Context, j *job) error {
	// A legacy attestation also carries a timestamp over its envelope,
	// which exists once the statement is signed: it is requested while
	// the log integrates the entry.
	var early chan envelopeTimestamp
	var err error
	switch {
	case j.dsse && j.legacy && a.Signer.HasTimestamps():
		early = make(chan envelopeTimestamp, 1)
		j.bundle, err = a.Signer.DSSEWithSignature(ctx, InTotoPayloadType, j.payload, func(sig []byte) {
			go func() { early <- a.timestampEnvelope(ctx, j.payload, sig) }()
		})
	case j.dsse:
		j.bundle, err = a.Signer.DSSE(ctx, InTotoPayloadType, j.payload)
	default:
		j.bundle, err = a.Signer.Message(ctx, j.payload)
	}
	if ue := (*sign.UnverifiedError)(nil); errors.As(err, &ue) {
		return fmt.Errorf("the %s just signed for %s does not verify; nothing was attached: %w", describe(j), j.targets[0], ue.Err)
	}
	if err != nil {
		return fmt.Errorf("sign %s for %s: %w", describe(j), j.targets[0], err)
	}
	if early == nil {
		return nil
	}
	env, err := envelopeJSON(j.bundle)
	if err != nil {
		return err
	}
	ts := <-early
	if !bytes.Equal(ts.envelope, env) {
		// Not the envelope the bundle holds: timestamp that one.
		ts.ts, ts.err = a.Signer.Timestamp(ctx, env)
	}
	if ts.err != nil {
		return fmt.Errorf("timestamp the cosign attestation for %s: %w", j.targets[0], ts.err)
	}
	j.tsLegacy = ts.ts
	return nil
}

// envelopeTimestamp is a timestamp authority's answer for an envelope.
type envelopeTimestamp struct {
	envelope, ts []byte
	err          error
}

// timestampEnvelope timestamps the envelope of an in-toto statement
// signed with sig, as cosign's .att layers hold it.
func (a *Attester) timestampEnvelope(ctx context.Context, payload, sig []byte) envelopeTimestamp {
	env, err := json.Marshal(&dsse.Envelope{
		PayloadType: InTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return envelopeTimestamp{err: fmt.Errorf("encode DSSE envelope: %w", err)}
	}
	ts, err := a.Signer.Timestamp(ctx, env)
	return envelopeTimestamp{envelope: env, ts: ts, err: err}
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
