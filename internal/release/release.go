// Package release runs the whole pipeline of harden release: lock check,
// build, smoke test, publish by digest, SBOMs, signing, attestations,
// verification with the same verifier users run, tags and the release
// record. Every stage checks whether an earlier run already did its work
// and proves it before skipping; a rerun after a failure finishes the
// release without duplicating anything.
package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/relversion"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/sign"
)

// Stage names, in the order they run.
const (
	StagePreflight = "preflight"
	StageLock      = "lock"
	StageBuild     = "build"
	StageTest      = "test"
	StagePublish   = "publish"
	StageSBOM      = "sbom"
	StageScan      = "scan"
	StageSign      = "sign"
	StageAttest    = "attest"
	StageVerify    = "verify"
	StageRecord    = "record"
)

// Stages lists every stage in order.
// SBOMs and the scan run on the local build, so an image the gate
// rejects is never pushed.
var Stages = []string{StagePreflight, StageLock, StageBuild, StageTest, StageSBOM, StageScan, StagePublish, StageSign, StageAttest, StageVerify, StageRecord}

// Options are the inputs of one release.
type Options struct {
	Project *project.Project
	Out     string // build output and records; default "dist"
	// Build inputs, as for harden build.
	WheelDir        string
	IndexURL        string
	CacheDir        string
	SourceDateEpoch string
	// UpstreamTrustedRoot is the Sigstore trusted root the PyPI (PEP 740)
	// attestations the lock records are verified against; "" is the
	// public-good root through TUF, loaded only when one must be verified.
	UpstreamTrustedRoot string
	// Runtime runs the smoke tests: runc, docker, podman, chroot or "" (first usable).
	Runtime string
	// Repository overrides repository: in harden.yaml.
	Repository string
	// Tags are applied to the index once the release has verified.
	Tags []string
	// VersionTag also tags the index with the next <app-version>-rN
	// (harden bump), decided before anything is pushed.
	VersionTag bool
	Storage    attach.Storage
	Signer     attest.SignerParams
	// VSA also signs a verification summary (SLSA VSA) of the verify
	// stage's result and attaches it with the signatures (docs/vsa.md).
	VSA bool
	// Pin lists manifests or Dockerfiles whose references to the
	// repository are rewritten to the released digest.
	Pin []string
	// DryRun reports what each stage would do and changes nothing.
	DryRun        bool
	Registry      *registry.Client
	HardenVersion string
	Getenv        func(string) string
	Progress      Progress
	Now           func() time.Time
	// Scan overrides scan: in harden.yaml (database, gate, VEX) where set.
	Scan ScanOptions
	// AfterStage, when set, runs after each completed stage; an error
	// stops the release there, as a failure would (fault injection).
	AfterStage func(stage string) error
	// Parts replace the stages' dependencies (tests); nil fields are the
	// real ones.
	Parts Parts
}

func (o *Options) logf(format string, args ...any) { o.Progress.Log(fmt.Sprintf(format, args...)) }

// ScanOptions are the scan stage's settings; zero fields take scan: in
// harden.yaml.
type ScanOptions struct {
	DB   scan.DBOptions
	Gate scan.Gate
	VEX  []string
}

// run is the state of one release in progress. The stages hand each
// other these values; the files in the output directory are written for
// the user and for a later rerun.
type run struct {
	o      Options
	p      Parts
	out    dist.Dir
	repo   name.Repository
	state  *dist.State
	epoch  int64
	inputs string
	built  *Built
	reused *Built        // an earlier build of these inputs, found by the lock stage
	rel    *dist.Release // the publication, then the final record
	image  name.Digest
	docs   []sbom.Document // every SBOM, in every format
	sboms  []dist.SBOMFile
	scans  []scan.PlatformReport
	db     *scan.DBStatus // opened by the preflight
	signer SignerInfo
	// attested is the attest stage's report when the sign stage signed
	// the attestations too.
	attested *attest.Report
	results  []StageResult
	verify   *verifyResult
	created  created            // what this run put in the registry
	version  *relversion.Result // with VersionTag
	final    *Record
}

// Record is release.json as harden release writes it.
type Record = dist.Release

// StageResult is how one stage ended.
type StageResult = dist.StageResult

// Run releases the project and returns the record and every stage's
// outcome (with DryRun, only the plan). On failure the error, a
// *StopError, says which stage stopped, what already exists and how to
// finish or roll back.
func Run(ctx context.Context, o Options) (*Record, []StageResult, error) {
	if o.Project == nil {
		return nil, nil, errs.Input(errors.New("no project loaded"))
	}
	if o.Out == "" {
		o.Out = dist.Default
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Signer.Getenv == nil {
		o.Signer.Getenv = o.Getenv
	}
	if o.Signer.TUF == nil {
		// The preflight, the sign, verify and lock stages load trust
		// material: TUF is read once for the run.
		o.Signer.TUF = &sign.TUFReader{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
	if o.Storage == "" {
		o.Storage = attach.Both
	}
	r := &run{o: o, out: dist.Dir(o.Out)}
	r.p = o.Parts.withDefaults(&r.o)
	if err := r.prepare(); err != nil {
		return nil, nil, err
	}
	defer r.p.Scanner.Close()
	steps := []struct {
		name string
		fn   func(context.Context) (string, bool, error) // detail, skipped
	}{
		{StagePreflight, r.preflight},
		{StageLock, r.lock},
		{StageBuild, r.build},
		{StageTest, r.test},
		{StageSBOM, r.sbom},
		{StageScan, r.scan},
		{StagePublish, r.publish},
		{StageSign, r.sign},
		{StageAttest, r.attest},
		{StageVerify, r.verifyStage},
		{StageRecord, r.record},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, r.results, r.stopped(s.name, err)
		}
		start := time.Now()
		o.Progress.Start(s.name)
		detail, skipped, err := s.fn(ctx)
		res := StageResult{Stage: s.name, Seconds: time.Since(start).Seconds(), Detail: detail, Status: "done"}
		switch {
		case err != nil:
			res.Status, res.Detail = "failed", firstLine(err.Error())
		case o.DryRun && s.name != StagePreflight: // the preflight runs for real
			res.Status = "planned"
		case skipped:
			res.Status = "skipped"
		}
		r.results = append(r.results, res)
		o.Progress.End(res)
		if err != nil {
			return nil, r.results, r.stopped(s.name, err)
		}
		if o.AfterStage != nil && !o.DryRun {
			if err := o.AfterStage(s.name); err != nil {
				return nil, r.results, r.stopped(s.name, err)
			}
		}
	}
	if o.DryRun {
		return nil, r.results, nil
	}
	return r.final, r.results, nil
}

func (r *run) logf(format string, args ...any) { r.o.logf(format, args...) }

// prepare resolves the repository and loads the state of earlier runs.
func (r *run) prepare() error {
	repo := r.o.Repository
	if repo == "" {
		repo = r.o.Project.Config.Repository
	}
	if repo == "" {
		return errs.Input(fmt.Errorf("no target repository: set repository: in %s or pass --repo", r.o.Project.Config.Path))
	}
	rp, err := name.NewRepository(repo)
	if err != nil {
		return errs.Input(fmt.Errorf("repository %q: %w; use e.g. ghcr.io/org/pgcli (no tag or digest)", repo, err))
	}
	r.repo = rp
	for _, t := range r.o.Tags {
		if _, err := name.NewTag(rp.String() + ":" + t); err != nil {
			return errs.Input(fmt.Errorf("--tag %q: %w", t, err))
		}
	}
	for _, p := range r.o.Pin {
		if _, err := os.Stat(p); err != nil {
			return errs.Input(fmt.Errorf("--pin %s: %w", p, err))
		}
	}
	st, err := r.out.ReadState()
	if err != nil {
		return err
	}
	bindState(st, rp.String())
	r.state = st
	return nil
}

// created is what this run, not an earlier one, put in the registry.
type created struct {
	published, signed, attested bool
}

// stopped explains a failed release: what exists and what to do next.
// Rollback advice names only what this run created; what earlier runs
// made is reported, not offered for deletion.
func (r *run) stopped(stage string, cause error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "release stopped at stage %q: %v", stage, cause)
	var done []string
	for _, s := range r.results {
		if s.Status == "done" || s.Status == "skipped" {
			done = append(done, s.Stage)
		}
	}
	if len(done) > 0 {
		fmt.Fprintf(&b, "\n  completed: %s", strings.Join(done, ", "))
	}
	switch st := r.state; {
	case st.Published != "":
		fmt.Fprintf(&b, "\n  in the registry: %s, untagged", st.Published)
		if st.Signed {
			b.WriteString(", signed")
		} else {
			b.WriteString(", not signed")
		}
		switch {
		case st.Verified:
			b.WriteString(", attested and verified, but release.json is not written")
		case st.Attested:
			b.WriteString(" and attested, but not verified")
		}
		var mine []string
		if r.created.published {
			mine = append(mine, "pushed it")
		}
		if r.created.signed {
			mine = append(mine, "signed it")
		}
		if r.created.attested {
			mine = append(mine, "attested it")
		}
		if len(mine) == 0 {
			b.WriteString("\n  (all of it from an earlier run of this release; this run added nothing to the registry)")
		} else {
			fmt.Fprintf(&b, "\n  this run %s", strings.Join(mine, ", "))
		}
		b.WriteString("\n  to finish: fix the cause and run the same harden release again; finished stages are checked and skipped, nothing is signed twice")
		if r.created.published {
			fmt.Fprintf(&b, "\n  to roll back: nothing points at %s by tag; delete it (and its sha256-* tags) with your registry's tools, or leave it unreferenced", st.Published)
		}
	case st.Digest != "":
		fmt.Fprintf(&b, "\n  nothing was pushed to %s; the build %s is in %s\n  to finish: fix the cause and run the same harden release again", r.repo, st.Digest, r.o.Out)
	default:
		fmt.Fprintf(&b, "\n  nothing was pushed to %s\n  to finish: fix the cause and run harden release again", r.repo)
	}
	return &StopError{Stage: stage, Err: cause, Published: r.state.Published, msg: b.String()}
}

// StopError is a release that stopped at Stage.
type StopError struct {
	Stage     string
	Err       error
	Published string // repo@sha256 if the image is in the registry
	msg       string
}

func (e *StopError) Error() string { return e.msg }
func (e *StopError) Unwrap() error { return e.Err }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
