package release

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/build"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/lockcheck"
	"github.com/harden-dev/harden/internal/publish"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/smoke"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/verify"
)

// What each stage needs from outside the release: small interfaces, so
// that the stage rules (skip, resume, preflight, state, advice) are
// tested with fakes. Options.Parts fields left nil get the real ones.

// Built is a build output: the index (read from the OCI layout) and its
// record.
type Built struct {
	Index  v1.ImageIndex
	Record *buildrecord.Record
}

// Builder checks the lock and builds: the lock and build stages.
type Builder interface {
	// CheckLock runs the checks of harden lock --check on every
	// platform and returns their names, with warnings that do not fail.
	// With reuse, an earlier build of the same inputs, the base is
	// described by its record instead of being read again.
	CheckLock(ctx context.Context, reuse *Built) (platforms, warnings []string, err error)
	// Build builds the image with the given SOURCE_DATE_EPOCH into the
	// output directory.
	Build(ctx context.Context, epoch int64) (*Built, error)
	// Reuse returns the build of digest already in the output directory
	// once its layout proves intact, or nil.
	Reuse(ctx context.Context, digest string) *Built
}

// Tester runs the smoke tests.
type Tester interface {
	Usable(ctx context.Context) (string, error) // preflight
	Test(ctx context.Context, idx v1.ImageIndex) (*smoke.Report, error)
}

// Publisher talks to the target registry.
type Publisher interface {
	CheckPush(ctx context.Context, repo name.Repository) error // preflight
	// Publish pushes by digest, untagged.
	Publish(ctx context.Context, repo name.Repository, b *Built) (*dist.Release, error)
	// Present proves the index and every platform manifest are served.
	Present(ctx context.Context, rel *dist.Release) error
	// Resolve is the digest a tag names; "" when the tag does not exist.
	Resolve(ctx context.Context, tag name.Tag) (string, error)
	Tag(ctx context.Context, image name.Digest, tags []name.Tag) error
}

// Cataloger makes the SBOMs of a build, lock-checked, for the image name.
type Cataloger interface {
	SBOMs(ctx context.Context, b *Built, imageName string) ([]sbom.Document, error)
}

// Scanner matches SBOMs against a vulnerability database.
type Scanner interface {
	Open(ctx context.Context, o scan.DBOptions) (scan.DBStatus, error) // preflight
	Scan(ctx context.Context, spdx []byte, o scan.Options) (*scan.Report, error)
	Close() error
}

// Signer signs and attests. Check runs in the preflight; Open makes the
// signing identity (a Fulcio certificate, or the key) before the sign
// stage.
type Signer interface {
	Check(ctx context.Context) (string, error)
	Open(ctx context.Context) (SignerInfo, error)
	// SignAndAttest signs the image and attests it with the given
	// statement types in one batch.
	SignAndAttest(ctx context.Context, rel *dist.Release, f *attest.Facts, types []string) (signs, atts *attest.Report, err error)
	// Statements signs and attaches statements made elsewhere (a VSA).
	Statements(ctx context.Context, sts []attest.Statement) (*attest.Report, error)
}

// SignerInfo is what the verify stage and the record need of the signer.
type SignerInfo struct {
	Identity     sign.Identity
	Keyless      bool
	RekorVersion uint32 // 0: no transparency log
	PublicKeyPEM []byte // key signing only
}

// Verifier is harden verify.
type Verifier interface {
	Verify(ctx context.Context, o verify.Options) (*verify.Report, error)
}

// Parts are the stages' dependencies; nil fields get the real ones.
type Parts struct {
	Builder   Builder
	Tester    Tester
	Publisher Publisher
	Cataloger Cataloger
	Scanner   Scanner
	Signer    Signer
	Verifier  Verifier
}

// withDefaults fills every nil part with the real implementation.
func (p Parts) withDefaults(o *Options) Parts {
	if p.Builder == nil {
		p.Builder = &realBuilder{o: o}
	}
	if p.Tester == nil {
		p.Tester = &realTester{o: o}
	}
	if p.Publisher == nil {
		p.Publisher = &realPublisher{reg: o.Registry, now: o.Now}
	}
	if p.Cataloger == nil {
		c := realCataloger{version: o.HardenVersion}
		if !o.DryRun {
			// Built while the stages before the SBOMs run.
			c.licenses = sbom.StartLicenses()
		}
		p.Cataloger = c
	}
	if p.Scanner == nil {
		p.Scanner = &realScanner{}
	}
	if p.Signer == nil {
		p.Signer = &realSigner{o: o}
	}
	if p.Verifier == nil {
		p.Verifier = realVerifier{}
	}
	return p
}

type realBuilder struct {
	o    *Options
	base *baseimage.Base // read by CheckLock, built on by Build
}

func (b *realBuilder) CheckLock(ctx context.Context, reuse *Built) ([]string, []string, error) {
	pr := b.o.Project
	targets, err := recordTargets(reuse, pr.Config)
	if err != nil {
		return nil, nil, err
	}
	if targets == nil {
		// The base is read once, here; Build reuses it.
		base, err := baseimage.InspectConfig(ctx, b.o.Registry, pr.Config)
		if err != nil {
			return nil, nil, err
		}
		if targets, err = base.Targets(pr.Config); err != nil {
			return nil, nil, err
		}
		b.base = base
	}
	rep, err := lockcheck.Run(ctx, lockcheck.Params{Project: pr, Targets: targets, WheelDir: b.o.WheelDir, IndexURL: b.o.IndexURL, CacheDir: b.o.CacheDir,
		Upstream: upstreamSettings(b.o)})
	if err != nil {
		return nil, nil, err
	}
	var plats []string
	warnings := lockWarnings(rep)
	if err := lockErr(rep); err != nil {
		return nil, warnings, err
	}
	for _, t := range rep.Targets {
		plats = append(plats, t.Platform)
	}
	return plats, warnings, nil
}

// recordTargets are the lock check's targets as the build record of
// reuse describes them: the Python each platform of the base had when it
// was built. Nil, without error, when there is no reuse or its record is
// not of this configuration's base and platforms (inspect the base).
func recordTargets(reuse *Built, c *config.Config) ([]baseimage.Target, error) {
	if reuse == nil {
		return nil, nil
	}
	rec := reuse.Record
	ref, err := name.NewDigest(c.Base)
	if err != nil || rec.Base.Digest != ref.DigestStr() || len(rec.Platforms) != len(c.Platforms) {
		return nil, nil
	}
	var targets []baseimage.Target
	for i, pl := range rec.Platforms {
		if pl.Platform != c.Platforms[i] || pl.Python.Version == "" {
			return nil, nil
		}
		t, err := baseimage.TargetOf(pl.Platform, pl.Python)
		if err != nil {
			return nil, fmt.Errorf("%s in the build record: %w", pl.Platform, err)
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// upstreamSettings are those of the lock stage's provenance check: when
// the lock records provenance, the records are checked against the
// provenance cache (never an index); else nil, no check.
func upstreamSettings(o *Options) *upstream.Settings {
	s := upstream.ForLock(o.Project.Lock, o.UpstreamTrustedRoot, true)
	if s != nil {
		s.TUF = o.Signer.TUF
	}
	return s
}

// lockErr is the lock stage's failure: an inconsistent lock, else the
// provenance check's refusals alone (each says what to run).
func lockErr(rep *lockcheck.Report) error {
	err := rep.Err()
	if err == nil {
		return nil
	}
	if rep.Inconsistent() {
		return fmt.Errorf("the lock is not consistent; fix it with harden lock (see harden lock --check): %w", err)
	}
	return fmt.Errorf("the upstream provenance the lock records does not check out (see harden lock --check): %w", err)
}

// lockWarnings are the warnings of harden lock --check, then those of
// the provenance check.
func lockWarnings(rep *lockcheck.Report) []string {
	var out []string
	for _, w := range rep.Warnings {
		out = append(out, w.Message)
	}
	if rep.Upstream != nil {
		out = append(out, rep.Upstream.Warnings...)
	}
	return out
}

func (b *realBuilder) Build(ctx context.Context, epoch int64) (*Built, error) {
	if _, err := build.Run(ctx, build.Params{
		Project: b.o.Project, Out: b.o.Out, WheelDir: b.o.WheelDir, IndexURL: b.o.IndexURL, CacheDir: b.o.CacheDir,
		SourceDateEpoch: fmt.Sprint(epoch), Registry: b.o.Registry, Log: b.o.logf, Base: b.base,
	}); err != nil {
		return nil, err
	}
	return openBuild(dist.Dir(b.o.Out))
}

func (b *realBuilder) Reuse(_ context.Context, digest string) *Built {
	out, err := openBuild(dist.Dir(b.o.Out))
	if err != nil || out.Record.Digest != digest || registry.CheckContent(out.Index) != nil {
		return nil
	}
	return out
}

func openBuild(d dist.Dir) (*Built, error) {
	idx, rec, err := d.Build()
	if err != nil {
		return nil, err
	}
	return &Built{Index: idx, Record: rec}, nil
}

type realTester struct{ o *Options }

func (t *realTester) Usable(ctx context.Context) (string, error) {
	return smoke.Usable(ctx, t.o.Runtime)
}

func (t *realTester) Test(ctx context.Context, idx v1.ImageIndex) (*smoke.Report, error) {
	if err := smoke.CheckRuntime(t.o.Runtime); err != nil {
		return nil, err
	}
	return smoke.RunOutput(ctx, idx, t.o.Project.Config, t.o.Runtime)
}

type realPublisher struct {
	reg *registry.Client
	now func() time.Time
}

func (p *realPublisher) CheckPush(ctx context.Context, repo name.Repository) error {
	return p.reg.CheckPush(ctx, repo)
}

func (p *realPublisher) Publish(ctx context.Context, repo name.Repository, b *Built) (*dist.Release, error) {
	return publish.Index(ctx, p.reg, repo, b.Index, b.Record, nil, p.now())
}

func (p *realPublisher) Present(ctx context.Context, rel *dist.Release) error {
	subs, err := rel.Subjects()
	if err != nil {
		return err
	}
	for _, d := range subs {
		desc, err := remote.Head(d, p.reg.Remote(ctx)...)
		if err != nil {
			return registry.Classify(fmt.Errorf("%s is not in the registry: %w", d, err))
		}
		if desc.Digest.String() != d.DigestStr() {
			return fmt.Errorf("registry serves %s for %s", desc.Digest, d)
		}
	}
	return nil
}

func (p *realPublisher) Resolve(ctx context.Context, tag name.Tag) (string, error) {
	desc, err := remote.Head(tag, p.reg.Remote(ctx)...)
	if registry.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", registry.Classify(fmt.Errorf("read tag %s: %w", tag, err))
	}
	return desc.Digest.String(), nil
}

func (p *realPublisher) Tag(ctx context.Context, image name.Digest, tags []name.Tag) error {
	idx, err := p.reg.Index(ctx, image)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if err := remote.Tag(t, idx, p.reg.Remote(ctx)...); err != nil {
			return registry.Classify(fmt.Errorf("tag %s: %w", t, err))
		}
	}
	return nil
}

type realCataloger struct {
	version  string
	licenses *sbom.Licenses
}

func (c realCataloger) SBOMs(ctx context.Context, b *Built, imageName string) ([]sbom.Document, error) {
	sboms, err := sbom.ForIndex(ctx, b.Index, b.Record, sbom.Options{
		Epoch: time.Unix(b.Record.SourceDateEpoch, 0).UTC(), ToolName: "harden", ToolVersion: c.version, Name: imageName, Licenses: c.licenses})
	if err != nil {
		return nil, err
	}
	return sbom.Documents(sboms)
}

type realScanner struct{ db *scan.DB }

func (s *realScanner) Open(_ context.Context, o scan.DBOptions) (scan.DBStatus, error) {
	if s.db == nil {
		db, err := scan.OpenDB(o)
		if err != nil {
			return scan.DBStatus{}, err
		}
		s.db = db
	}
	return s.db.Status, nil
}

func (s *realScanner) Scan(ctx context.Context, spdx []byte, o scan.Options) (*scan.Report, error) {
	return scan.Scan(ctx, s.db, spdx, o)
}

func (s *realScanner) Close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

type realSigner struct {
	o      *Options
	signer *sign.Signer
}

func (s *realSigner) Check(ctx context.Context) (string, error) {
	return attest.CheckSigner(ctx, s.o.Signer)
}

func (s *realSigner) Open(ctx context.Context) (SignerInfo, error) {
	signer, err := attest.NewSigner(ctx, s.o.Signer)
	if err != nil {
		return SignerInfo{}, err
	}
	s.signer = signer
	info := SignerInfo{Identity: signer.Identity(), Keyless: signer.Keyless(), RekorVersion: signer.RekorVersion()}
	if !info.Keyless {
		if info.PublicKeyPEM, err = signer.PublicKeyPEM(); err != nil {
			return SignerInfo{}, err
		}
	}
	return info, nil
}

func (s *realSigner) params() attest.Params {
	// A digest released before keeps its attestations: one per
	// subject, predicate type and signer (docs/release-record.md).
	o := s.o
	return attest.Params{Config: o.Project.Config, Storage: o.Storage, Signer: s.signer, Registry: o.Registry,
		HardenVersion: o.HardenVersion, Getenv: o.Getenv, Log: o.logf, Now: o.Now, KeepFacts: true}
}

func (s *realSigner) SignAndAttest(ctx context.Context, rel *dist.Release, f *attest.Facts, types []string) (*attest.Report, *attest.Report, error) {
	return attest.SignAndAttestRelease(ctx, s.params(), rel, f, types)
}

func (s *realSigner) Statements(ctx context.Context, sts []attest.Statement) (*attest.Report, error) {
	p := s.params()
	return (&attest.Attester{Signer: s.signer, Store: attach.New(p.Registry), Storage: p.Storage, Log: p.Log, Now: p.Now, KeepFacts: true}).Attest(ctx, sts)
}

type realVerifier struct{}

func (realVerifier) Verify(ctx context.Context, o verify.Options) (*verify.Report, error) {
	return verify.Verify(ctx, o)
}
