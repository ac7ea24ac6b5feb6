package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/smoke"
	"github.com/harden-dev/harden/internal/verify"
)

// world is a registry, a signer and a build machine in memory: every
// part of a release as a fake, so the stage rules run under go test
// -short with no runtime, registry or Sigstore. It records each call.
type world struct {
	t   *testing.T
	mu  sync.Mutex
	log []string // calls, in order: "build", "push repo", "sign", ...
	// fail makes a call fail: keys are call names ("build", "scan", ...)
	// and preflight items ("check-runtime", "check-signer",
	// "check-push", "check-db").
	fail map[string]error
	// index is what every build produces (the same inputs give the same
	// digest); onDisk says a build output is in the directory.
	index  v1.ImageIndex
	rec    *buildrecord.Record
	onDisk bool
	// The registry: images pushed, entries attached, tags.
	pushed  map[string]bool   // repo@digest
	entries map[string]bool   // subject|kind|predicate|layout
	tags    map[string]string // repo:tag -> digest
	// What the parts return.
	keyless    bool
	findings   []scan.Finding
	smokeFails bool
	// smokeWarnings are the test report's warnings.
	smokeWarnings []string
	// lockWarnings are the lock check's warnings.
	lockWarnings []string
	// lockReuse records, per lock check, whether it was given a build.
	lockReuse  []bool
	unverified bool
}

func newWorld(t *testing.T) *world {
	t.Helper()
	idx, err := random.Index(64, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	rec := &buildrecord.Record{SchemaVersion: buildrecord.Schema, Name: "app", Version: "1.0.0", Digest: d.String(), SourceDateEpoch: 1700000000,
		Platforms: []buildrecord.PlatformRecord{{Platform: "linux/amd64", Digest: im.Manifests[0].Digest.String()}}}
	return &world{t: t, fail: map[string]error{}, index: idx, rec: rec, pushed: map[string]bool{}, entries: map[string]bool{}, tags: map[string]string{}, keyless: true}
}

func (w *world) call(what string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, what)
	return w.fail[strings.Fields(what)[0]]
}

// calls returns the calls so far and forgets them.
func (w *world) calls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.log
	w.log = nil
	return c
}

func (w *world) parts() Parts {
	return Parts{Builder: fakeBuilder{w}, Tester: fakeTester{w}, Publisher: fakePublisher{w}, Cataloger: fakeCataloger{w},
		Scanner: fakeScanner{w}, Signer: fakeSigner{w}, Verifier: fakeVerifier{w}}
}

// project writes a minimal project: a config, a lock and requirements,
// whose bytes are the build inputs' fingerprint.
func (w *world) project(repo string) *project.Project {
	dir := w.t.TempDir()
	for f, s := range map[string]string{"harden.yaml": "name: app\n", "requirements.lock": "pgcli==4.1.0 --hash=sha256:00\n", "requirements.in": "pgcli\n"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	return &project.Project{
		Config: &config.Config{Path: filepath.Join(dir, "harden.yaml"), Dir: dir, Name: "app", Repository: repo, Lock: "requirements.lock", Requirements: "requirements.in",
			Base: "registry.example/python@sha256:" + strings.Repeat("0", 64), User: config.User{UID: 10001}},
		Lock: &lock.File{Path: filepath.Join(dir, "requirements.lock"), Digest: "sha256:" + strings.Repeat("1", 64), Requirements: []lock.Requirement{{Name: "pgcli"}}},
	}
}

// options are a release of pr into out, every part a fake.
func (w *world) options(pr *project.Project, out string) Options {
	return Options{Project: pr, Out: out, SourceDateEpoch: "1700000000", Storage: attach.Both, Parts: w.parts(),
		HardenVersion: "test", Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Unix(1800000000, 0) }}
}

func (w *world) built() *Built { return &Built{Index: w.index, Record: w.rec} }

type fakeBuilder struct{ w *world }

func (f fakeBuilder) CheckLock(_ context.Context, reuse *Built) ([]string, []string, error) {
	f.w.mu.Lock()
	f.w.lockReuse = append(f.w.lockReuse, reuse != nil)
	f.w.mu.Unlock()
	return []string{"linux/amd64"}, f.w.lockWarnings, f.w.call("lock")
}

func (f fakeBuilder) Build(context.Context, int64) (*Built, error) {
	if err := f.w.call("build"); err != nil {
		return nil, err
	}
	f.w.onDisk = true
	return f.w.built(), nil
}

func (f fakeBuilder) Reuse(_ context.Context, digest string) *Built {
	if !f.w.onDisk || digest != f.w.rec.Digest {
		return nil
	}
	return f.w.built()
}

type fakeTester struct{ w *world }

func (f fakeTester) Usable(context.Context) (string, error) { return "fake", f.w.call("check-runtime") }

func (f fakeTester) Test(context.Context, v1.ImageIndex) (*smoke.Report, error) {
	if err := f.w.call("test"); err != nil {
		return nil, err
	}
	return &smoke.Report{Platform: "linux/amd64", Runtime: "fake", Checks: []smoke.Check{{Name: "entrypoint", Passed: !f.w.smokeFails, Reason: "exit 1"}},
		Warnings: f.w.smokeWarnings}, nil
}

type fakePublisher struct{ w *world }

func (f fakePublisher) CheckPush(_ context.Context, repo name.Repository) error {
	return f.w.call("check-push " + repo.String())
}

func (f fakePublisher) Publish(_ context.Context, repo name.Repository, b *Built) (*dist.Release, error) {
	if err := f.w.call("push " + repo.String()); err != nil {
		return nil, err
	}
	rel := &dist.Release{SchemaVersion: dist.ReleaseSchema, Image: repo.Digest(b.Record.Digest).String(), Repository: repo.String(), Digest: b.Record.Digest,
		Version: b.Record.Version, PublishedAt: time.Unix(1800000000, 0).UTC()}
	for _, p := range b.Record.Platforms {
		rel.Platforms = append(rel.Platforms, dist.Platform{Platform: p.Platform, Digest: p.Digest, Image: repo.Digest(p.Digest).String()})
	}
	subs, _ := rel.Subjects()
	for _, s := range subs {
		f.w.pushed[s.String()] = true
	}
	return rel, nil
}

func (f fakePublisher) Present(_ context.Context, rel *dist.Release) error {
	subs, err := rel.Subjects()
	if err != nil {
		return err
	}
	for _, s := range subs {
		if !f.w.pushed[s.String()] {
			return fmt.Errorf("%s is not in the registry", s)
		}
	}
	return nil
}

func (f fakePublisher) Resolve(_ context.Context, tag name.Tag) (string, error) {
	return f.w.tags[tag.String()], nil
}

func (f fakePublisher) Tag(_ context.Context, image name.Digest, tags []name.Tag) error {
	for _, t := range tags {
		if err := f.w.call("tag " + t.TagStr()); err != nil {
			return err
		}
		f.w.tags[t.String()] = image.DigestStr()
	}
	return nil
}

type fakeCataloger struct{ w *world }

func (f fakeCataloger) SBOMs(_ context.Context, b *Built, imageName string) ([]sbom.Document, error) {
	if err := f.w.call("sbom"); err != nil {
		return nil, err
	}
	var docs []sbom.Document
	for _, p := range b.Record.Platforms {
		docs = append(docs,
			sbom.Document{Platform: p.Platform, Digest: p.Digest, Format: sbom.SPDXJSON,
				Bytes: fmt.Appendf(nil, `{"spdxVersion":"SPDX-2.3","documentNamespace":%q}`, sbom.DocumentID(sbom.SPDXJSON, imageName, p.Digest))},
			sbom.Document{Platform: p.Platform, Digest: p.Digest, Format: sbom.CycloneDXJSON,
				Bytes: fmt.Appendf(nil, `{"specVersion":"1.6","serialNumber":%q}`, sbom.DocumentID(sbom.CycloneDXJSON, imageName, p.Digest))})
	}
	return docs, nil
}

type fakeScanner struct{ w *world }

func (f fakeScanner) Open(context.Context, scan.DBOptions) (scan.DBStatus, error) {
	return scan.DBStatus{Schema: "v6.1.0", Built: time.Unix(1799990000, 0).UTC(), Source: "fake"}, f.w.call("check-db")
}

func (f fakeScanner) Scan(context.Context, []byte, scan.Options) (*scan.Report, error) {
	if err := f.w.call("scan"); err != nil {
		return nil, err
	}
	return &scan.Report{Scanner: scan.Scanner{Name: "grype", Version: "test"}, Findings: slices.Clone(f.w.findings)}, nil
}

func (fakeScanner) Close() error { return nil }

type fakeSigner struct{ w *world }

func (f fakeSigner) Check(context.Context) (string, error) {
	return "fake identity", f.w.call("check-signer")
}

func (f fakeSigner) Open(context.Context) (SignerInfo, error) {
	if f.w.keyless {
		return SignerInfo{Identity: sign.Identity{Subject: "ci@example.com", Issuer: "https://issuer.example"}, Keyless: true, RekorVersion: 2}, nil
	}
	return SignerInfo{Identity: sign.Identity{KeyID: strings.Repeat("ab", 32)}, PublicKeyPEM: []byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n")}, nil
}

// attach records one entry per layout, present when the registry
// already holds it (one per subject, kind, predicate type).
func (f fakeSigner) attach(rep *attest.Report, sub name.Digest, kind, pred string) {
	for _, layout := range []string{"referrers", "legacy"} {
		k := strings.Join([]string{sub.String(), kind, pred, layout}, "|")
		status := "attached"
		if f.w.entries[k] {
			status = "present"
		}
		f.w.entries[k] = true
		rep.Entries = append(rep.Entries, attest.Entry{Subject: sub.DigestStr(), Kind: kind, PredicateType: pred, Layout: layout, Status: status})
	}
}

// SignAndAttest fails, attaching nothing, when either half fails, as the
// real one signs everything before it writes.
func (f fakeSigner) SignAndAttest(_ context.Context, rel *dist.Release, facts *attest.Facts, types []string) (*attest.Report, *attest.Report, error) {
	if err := f.w.call("sign"); err != nil {
		return nil, nil, err
	}
	if err := f.w.call("attest"); err != nil {
		return nil, nil, err
	}
	if len(facts.SBOMs) == 0 || len(facts.Scans) == 0 || facts.Record == nil || facts.Release != rel {
		return nil, nil, errors.New("attest was handed no SBOMs, scans, build record or release")
	}
	signs, atts := &attest.Report{Storage: "both"}, &attest.Report{Storage: "both"}
	subs, _ := rel.Subjects()
	for _, s := range subs {
		f.attach(signs, s, "signature", "")
	}
	for _, t := range types {
		for _, s := range subs {
			f.attach(atts, s, "attestation", t)
		}
	}
	return signs, atts, nil
}

func (f fakeSigner) Statements(_ context.Context, sts []attest.Statement) (*attest.Report, error) {
	if err := f.w.call("vsa"); err != nil {
		return nil, err
	}
	rep := &attest.Report{Storage: "both"}
	for _, st := range sts {
		for _, s := range st.AttachTo {
			f.attach(rep, s, "attestation", st.PredicateType)
		}
	}
	return rep, nil
}

type fakeVerifier struct{ w *world }

func (f fakeVerifier) Verify(_ context.Context, o verify.Options) (*verify.Report, error) {
	if err := f.w.call("verify"); err != nil {
		return nil, err
	}
	d, _ := name.NewDigest(o.Image)
	rep := &verify.Report{Image: o.Image, Digest: d.DigestStr(), Verified: !f.w.unverified, PolicyDigest: "sha256:" + strings.Repeat("c", 64),
		Checks: []verify.Check{{Name: "signature", Subject: d.DigestStr(), Passed: !f.w.unverified, Reason: "fake"}},
		Input:  &verify.Input{Image: verify.InputImage{Reference: o.Image, Repository: d.Context().String(), Digest: d.DigestStr()}}}
	for _, p := range f.w.rec.Platforms {
		rep.Input.Image.Platforms = append(rep.Input.Image.Platforms, verify.InputPlatform{Platform: p.Platform, Digest: p.Digest})
	}
	for k := range f.w.entries {
		p := strings.Split(k, "|")
		if !strings.HasPrefix(p[0], d.Context().String()+"@") {
			continue
		}
		sub, _ := name.NewDigest(p[0])
		v := verify.Verified{Subject: sub.DigestStr(), Layout: p[3], PredicateType: p[2], Timestamps: []string{"2027-01-15T08:00:00Z"}}
		if f.w.keyless && p[3] == "referrers" {
			i := int64(len(rep.Input.Signatures) + len(rep.Input.Attestations))
			v.LogIndex = &i
		}
		if p[1] == "signature" {
			rep.Input.Signatures = append(rep.Input.Signatures, v)
		} else {
			rep.Input.Attestations = append(rep.Input.Attestations, v)
		}
	}
	return rep, nil
}

// statuses maps each stage to how it ended.
func statuses(rs []StageResult) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		m[r.Stage] = r.Status
	}
	return m
}

// count is how many calls start with prefix.
func count(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

var errFault = errs.Unreachable(errors.New("connection refused"))
