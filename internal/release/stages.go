package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/build"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/gitinfo"
	"github.com/harden-dev/harden/internal/lockcheck"
	"github.com/harden-dev/harden/internal/publish"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/relversion"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/smoke"
)

// lock checks that the lock covers every top-level requirement with a
// pin its specifier accepts; parsing (hashes, == pins) happened on load.
func (r *run) lock(ctx context.Context) (string, bool, error) {
	pr := r.o.Project
	// The same check as harden lock --check: every platform, every
	// requirement of requirements.in and of each wheel's METADATA.
	// The base is read once, here; the build stage reuses it.
	base, err := baseimage.InspectConfig(ctx, r.o.Registry, pr.Config)
	if err != nil {
		return "", false, err
	}
	targets, err := base.Targets(pr.Config)
	if err != nil {
		return "", false, err
	}
	r.base = base
	rep, err := lockcheck.Run(ctx, lockcheck.Params{Project: pr, Targets: targets, WheelDir: r.o.WheelDir, IndexURL: r.o.IndexURL, CacheDir: r.o.CacheDir})
	if err != nil {
		return "", false, err
	}
	for _, w := range rep.Warnings {
		r.logf("warning: %s", w.Message)
	}
	if err := rep.Err(); err != nil {
		return "", false, fmt.Errorf("the lock is not consistent; fix it with harden lock (see harden lock --check): %w", err)
	}
	var plats []string
	for _, t := range rep.Targets {
		plats = append(plats, t.Platform)
	}
	version := ""
	if r.o.VersionTag {
		if r.version, err = relversion.Next(ctx, relversion.Options{Config: pr.Config, Lock: pr.Lock, Registry: r.o.Registry}); err != nil {
			return "", false, err
		}
		r.logf("version %s: %s", r.version.Next, r.version.Reason)
		version = ", version " + r.version.Next
	}
	epoch, err := gitinfo.Epoch(r.o.SourceDateEpoch, pr.Git)
	if err != nil {
		return "", false, errs.Input(err)
	}
	r.epoch = epoch.Unix()
	if r.inputs, err = fingerprint(pr, r.epoch, r.o.HardenVersion, r.o.WheelDir, r.o.IndexURL); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%d pins consistent on %s, lock %s%s", len(pr.Lock.Requirements), strings.Join(plats, ", "), shortDigest(pr.Lock.Digest), version), false, nil
}

// build reuses the output of an earlier run made from the same inputs
// once its layout proves intact; otherwise it builds.
func (r *run) build(ctx context.Context) (string, bool, error) {
	if r.state.Inputs == r.inputs && r.state.Digest != "" {
		if idx, rec, err := buildrecord.ReadOutput(r.o.Out); err == nil && rec.Digest == r.state.Digest {
			if err := registry.CheckContent(idx); err == nil {
				r.rec = rec
				return fmt.Sprintf("%s already built from these inputs (layout verified)", shortDigest(rec.Digest)), true, nil
			}
		}
	}
	if r.o.DryRun {
		return "would build " + r.o.Out + " from " + r.o.Project.Config.Base, false, nil
	}
	rec, err := build.Run(ctx, build.Params{
		Project: r.o.Project, Out: r.o.Out, WheelDir: r.o.WheelDir, IndexURL: r.o.IndexURL, CacheDir: r.o.CacheDir,
		SourceDateEpoch: fmt.Sprint(r.epoch), Registry: r.o.Registry, Log: r.logf, Base: r.base,
	})
	if err != nil {
		return "", false, err
	}
	r.rec = rec
	// A new build invalidates everything an earlier run did.
	r.state = &State{Schema: StateSchema, Inputs: r.inputs, Digest: rec.Digest, Repository: r.repo.String()}
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("index %s, %d platform(s)", shortDigest(rec.Digest), len(rec.Platforms)), false, nil
}

func (r *run) test(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		return "would run " + fmt.Sprint(len(r.o.Project.Config.Smoke)) + " smoke test(s) and the user/entrypoint checks", false, nil
	}
	if r.state.Tested && r.state.Digest == r.rec.Digest {
		return "passed earlier for " + shortDigest(r.rec.Digest), true, nil
	}
	if err := smoke.CheckRuntime(r.o.Runtime); err != nil {
		return "", false, err
	}
	idx, _, err := buildrecord.ReadOutput(r.o.Out)
	if err != nil {
		return "", false, err
	}
	rep, err := smoke.RunOutput(ctx, idx, r.o.Project.Config, r.o.Runtime)
	if err != nil {
		return "", false, err
	}
	var failed []string
	for _, c := range rep.Checks {
		if !c.Passed {
			failed = append(failed, c.Name+": "+c.Reason)
		}
	}
	if len(failed) > 0 {
		return "", false, errs.Check(fmt.Errorf("smoke tests failed in %s (%s); nothing was pushed:\n  %s", rep.Platform, rep.Runtime, strings.Join(failed, "\n  ")))
	}
	r.state.Tested = true
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%d check(s) passed with %s", len(rep.Checks), rep.Runtime), false, nil
}

// publish pushes by digest without tags: tags come only after the
// release has verified.
func (r *run) publish(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		return "would push by digest to " + r.repo.String(), false, nil
	}
	want := r.repo.Digest(r.rec.Digest)
	if r.state.Published == want.String() {
		if rel, err := r.readRelease(); err == nil && rel.Image == want.String() && r.present(ctx, rel) == nil {
			r.image, r.rel = want, rel
			return want.String() + " is in the registry (index and every platform manifest)", true, nil
		}
	}
	rel, err := publish.Publish(ctx, publish.Params{Out: r.o.Out, Repository: r.repo.String(), Registry: r.o.Registry, Now: r.o.Now})
	if err != nil {
		return "", false, err
	}
	// The push read back the index; the platform manifests are proved
	// here, so the stages after this one sign a complete image.
	if err := r.present(ctx, rel); err != nil {
		return "", false, fmt.Errorf("after the push: %w", err)
	}
	r.image, r.rel = want, rel
	r.created.published = true
	r.state.Published = rel.Image
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return rel.Image, false, nil
}

// present proves that the index and every platform manifest are in the
// registry: the publish stage ends only when that holds, so nothing is
// signed before it does.
func (r *run) present(ctx context.Context, rel *publish.Release) error {
	refs := []string{rel.Image}
	for _, p := range rel.Platforms {
		refs = append(refs, p.Image)
	}
	for _, s := range refs {
		d, err := name.NewDigest(s)
		if err != nil {
			return err
		}
		desc, err := remote.Head(d, r.o.Registry.Remote(ctx)...)
		if err != nil {
			return registry.Classify(fmt.Errorf("%s is not in the registry: %w", d, err))
		}
		if desc.Digest.String() != d.DigestStr() {
			return fmt.Errorf("registry serves %s for %s", desc.Digest, d)
		}
	}
	return nil
}

func (r *run) readRelease() (*publish.Release, error) {
	rel, _, err := attest.Release(attest.Params{Out: r.o.Out})
	return rel, err
}

// sbom writes the SPDX and CycloneDX documents (cross-checked against
// the lock), keeping files an earlier run made for this image.
func (r *run) sbom(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		return "would write SPDX 2.3 and CycloneDX 1.6 SBOMs to " + filepath.Join(r.o.Out, "sbom"), false, nil
	}
	dir := filepath.Join(r.o.Out, "sbom")
	files, err := r.sbomFiles(dir)
	if err != nil {
		return "", false, err
	}
	if files != nil {
		r.sboms = files
		return fmt.Sprintf("%d SBOM(s) for this image already in %s", len(files), dir), true, nil
	}
	if _, err := attest.WriteSBOMs(ctx, r.o.Out, dir, nil, r.repo.String(), r.o.HardenVersion); err != nil {
		return "", false, err
	}
	if files, err = r.sbomFiles(dir); err != nil {
		return "", false, err
	}
	if files == nil {
		return "", false, errors.New("the SBOMs just written do not read back as this image's; check " + dir)
	}
	r.sboms = files
	return fmt.Sprintf("%d SBOM(s) in %s, cross-checked against the lock", len(files), dir), false, nil
}

// sbomFiles returns every expected SBOM file, or nil if one is missing
// or was made for another image.
func (r *run) sbomFiles(dir string) ([]SBOMFile, error) {
	var out []SBOMFile
	for _, pl := range r.rec.Platforms {
		for _, f := range sbom.Formats() {
			b, err := sbom.ReadFile(dir, r.repo.String(), pl.Platform, pl.Digest, f)
			if err != nil {
				return nil, err
			}
			if b == nil {
				return nil, nil
			}
			out = append(out, SBOMFile{Platform: pl.Platform, Format: string(f), PredicateType: f.PredicateType(),
				Path: filepath.Join("sbom", sbom.FileName(pl.Platform, f)), Digest: sha256Hex(b), Size: int64(len(b))})
		}
	}
	return out, nil
}

// scanSettings completes the scan options from scan: in harden.yaml.
func (r *run) scanSettings() (ScanOptions, error) {
	c := r.o.Project.Config.ScanSettings()
	o := r.o.Scan
	if o.Gate.FailOn == "" {
		o.Gate.FailOn = cmp.Or(c.FailOn, config.DefaultFailOn)
		o.Gate.IncludeUnfixed = o.Gate.IncludeUnfixed || c.IncludeUnfixed
	}
	if _, err := scan.ParseSeverity(o.Gate.FailOn); err != nil {
		return o, err
	}
	if o.VEX == nil {
		o.VEX = c.VEX
	}
	if o.DB.Path == "" {
		o.DB.Path = c.DB
	}
	if o.DB.MaxAge == 0 {
		o.DB.MaxAge = c.MaxDBAge.Duration
	}
	if o.DB.Now == nil {
		o.DB.Now = r.o.Now
	}
	return o, nil
}

// scan matches each platform's SPDX SBOM against the vulnerability
// database and stops the release, before anything is signed, on findings
// the gate fails. Reports an earlier run wrote for this image are kept
// while they still pass the gate, so a rerun attests the same result.
func (r *run) scan(ctx context.Context) (string, bool, error) {
	so, err := r.scanSettings()
	if err != nil {
		return "", false, err
	}
	if r.o.DryRun {
		db := cmp.Or(so.DB.Path, "grype's current database")
		return fmt.Sprintf("would scan the SBOMs against %s and fail on %s and above", db, so.Gate.FailOn), false, nil
	}
	dir := filepath.Join(r.o.Out, "scan")
	var kept []scan.PlatformReport
	for _, pl := range r.rec.Platforms {
		pr, err := scan.ReadFile(dir, pl.Platform, pl.Digest)
		if err != nil {
			return "", false, err
		}
		if pr == nil || pr.Report.Check(so.Gate) != nil {
			kept = nil
			break
		}
		kept = append(kept, *pr)
	}
	if len(kept) == len(r.rec.Platforms) {
		r.scans = kept
		return fmt.Sprintf("%d report(s) for this image already in %s", len(kept), dir), true, nil
	}
	db := r.db
	if db == nil {
		if db, err = scan.OpenDB(so.DB); err != nil {
			return "", false, err
		}
		r.db = db
	}
	r.logf("vulnerability database %s, built %s (%s)", db.Status.Schema, db.Status.Built.Format(time.RFC3339), db.Status.Source)
	var out []scan.PlatformReport
	for _, pl := range r.rec.Platforms {
		path := filepath.Join(r.o.Out, "sbom", sbom.FileName(pl.Platform, sbom.SPDXJSON))
		doc, err := os.ReadFile(path)
		if err != nil {
			return "", false, fmt.Errorf("read the SBOM of %s: %w", pl.Platform, err)
		}
		rep, err := scan.Scan(ctx, db, doc, scan.Options{VEX: so.VEX, Now: r.o.Now})
		if err != nil {
			return "", false, fmt.Errorf("scan %s: %w", pl.Platform, err)
		}
		if err := rep.Check(so.Gate); err != nil {
			return "", false, fmt.Errorf("%s: %w", pl.Platform, err)
		}
		out = append(out, scan.PlatformReport{Platform: pl.Platform, Digest: pl.Digest, Report: rep})
	}
	for _, pr := range out {
		if _, err := scan.WriteFile(dir, pr); err != nil {
			return "", false, err
		}
	}
	r.scans = out
	findings, suppressed := 0, 0
	for _, pr := range out {
		findings += len(pr.Report.Findings)
		suppressed += len(pr.Report.Suppressed)
	}
	return fmt.Sprintf("%d finding(s), %d suppressed by VEX, none at or above %s with a fix (database built %s)",
		findings, suppressed, so.Gate.FailOn, db.Status.Built.Format("2006-01-02")), false, nil
}

func (r *run) attestParams() attest.Params {
	// A digest released before keeps its attestations: one per
	// subject, predicate type and signer (docs/release-record.md).
	return attest.Params{Out: r.o.Out, Config: r.o.Project.Config, Storage: r.o.Storage, Signer: r.signer,
		Registry: r.o.Registry, HardenVersion: r.o.HardenVersion, Getenv: r.o.Getenv, Log: r.logf, Now: r.o.Now, KeepFacts: true}
}

func (r *run) sign(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		how := "keyless (Fulcio certificate from an OIDC token)"
		if r.o.Signer.KeyPath != "" {
			how = "with the key " + r.o.Signer.KeyPath
		}
		return fmt.Sprintf("would sign the index and every platform manifest %s, storage %s", how, r.o.Storage), false, nil
	}
	// The publish stage proved the whole image is in the registry.
	signer, err := attest.NewSigner(ctx, r.o.Signer)
	if err != nil {
		return "", false, err
	}
	r.signer = signer
	r.logf("signing as %s", signer.Identity())
	rep, err := attest.SignRelease(ctx, r.attestParams())
	if err != nil {
		return "", false, err
	}
	r.signs = rep
	r.created.signed = !allPresent(rep)
	r.state.Signed = true
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return summarize(rep), allPresent(rep), nil
}

func (r *run) attest(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		return "would attest " + strings.Join(append(attest.AllTypes, attest.TypeVuln), ", "), false, nil
	}
	rep, err := attest.AttestRelease(ctx, r.attestParams(), append(slices.Clone(attest.AllTypes), attest.TypeVuln))
	if err != nil {
		return "", false, err
	}
	r.atts = rep
	r.created.attested = !allPresent(rep)
	r.state.Attested = true
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return summarize(rep), allPresent(rep), nil
}

func summarize(rep *attest.Report) string {
	attached, present := 0, 0
	for _, e := range rep.Entries {
		if e.Status == "attached" {
			attached++
		} else {
			present++
		}
	}
	if attached == 0 {
		return fmt.Sprintf("all %d entries already present and valid", present)
	}
	return fmt.Sprintf("%d attached, %d already present (%s)", attached, present, rep.Storage)
}

func allPresent(rep *attest.Report) bool {
	for _, e := range rep.Entries {
		if e.Status == "attached" {
			return false
		}
	}
	return len(rep.Entries) > 0
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// writePublicKey puts the signer's public key beside the records, for
// key-based verification.
func (r *run) writePublicKey() (string, error) {
	pem, err := r.signer.PublicKeyPEM()
	if err != nil {
		return "", err
	}
	p := filepath.Join(r.o.Out, "cosign.pub")
	if err := os.WriteFile(p, pem, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return p, nil
}
