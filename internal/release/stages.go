package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/gitinfo"
	"github.com/harden-dev/harden/internal/relversion"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/wording"
)

// lock checks that the lock covers every requirement on every platform
// and fixes the build inputs: the epoch and their fingerprint.
func (r *run) lock(ctx context.Context) (string, bool, error) {
	pr := r.o.Project
	epoch, err := gitinfo.Epoch(r.o.SourceDateEpoch, pr.Git)
	if err != nil {
		return "", false, errs.Input(err)
	}
	r.epoch = epoch.Unix()
	if r.inputs, err = fingerprint(pr, r.epoch, r.o.HardenVersion, r.o.WheelDir, r.o.IndexURL); err != nil {
		return "", false, err
	}
	// A build of these very inputs describes the base as well as reading
	// it again would; the build stage reuses it.
	var reuse *Built
	if r.state.Inputs == r.inputs && r.state.Digest != "" {
		reuse = r.p.Builder.Reuse(ctx, r.state.Digest)
	}
	plats, warnings, err := r.p.Builder.CheckLock(ctx, reuse)
	for _, w := range warnings {
		r.logf("warning: %s", w)
	}
	if err != nil {
		return "", false, err
	}
	r.reused = reuse
	version := ""
	if r.o.VersionTag {
		if r.version, err = relversion.Next(ctx, relversion.Options{Config: pr.Config, Lock: pr.Lock, Registry: r.o.Registry}); err != nil {
			return "", false, err
		}
		r.logf("version %s: %s", r.version.Next, r.version.Reason)
		version = ", version " + r.version.Next
	}
	return fmt.Sprintf("%s consistent on %s, lock %s%s", wording.Count(len(pr.Lock.Requirements), "pin"), strings.Join(plats, ", "), shortDigest(pr.Lock.Digest), version), false, nil
}

// build reuses the output of an earlier run made from the same inputs
// once its layout proves intact; otherwise it builds.
func (r *run) build(ctx context.Context) (string, bool, error) {
	if b := r.reused; b != nil {
		r.built = b
		return fmt.Sprintf("%s already built from these inputs (layout verified)", shortDigest(b.Record.Digest)), true, nil
	}
	if r.o.DryRun {
		return "would build " + r.o.Out + " from " + r.o.Project.Config.Base, false, nil
	}
	b, err := r.p.Builder.Build(ctx, r.epoch)
	if err != nil {
		return "", false, err
	}
	r.built = b
	// A new build invalidates everything an earlier run did.
	r.state = &dist.State{Schema: dist.StateSchema, Inputs: r.inputs, Digest: b.Record.Digest, Repository: r.repo.String()}
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("index %s, %s", shortDigest(b.Record.Digest), wording.Count(len(b.Record.Platforms), "platform")), false, nil
}

func (r *run) test(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		if n := len(r.o.Project.Config.Smoke); n > 0 {
			return fmt.Sprintf("would run %s and the user/entrypoint checks", wording.Count(n, "smoke test")), false, nil
		}
		return "would run the entrypoint once with test.defaultArgs (no smoke: tests defined) and the user/entrypoint checks", false, nil
	}
	if r.state.Tested && r.state.Digest == r.built.Record.Digest {
		return "passed earlier for " + shortDigest(r.built.Record.Digest), true, nil
	}
	rep, err := r.p.Tester.Test(ctx, r.built.Index)
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
	for _, w := range rep.Warnings {
		r.logf("warning: %s", w)
	}
	r.state.Tested = true
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%s passed with %s", wording.Count(len(rep.Checks), "check"), rep.Runtime), false, nil
}

// sbom makes the SPDX and CycloneDX documents (cross-checked against the
// lock), keeping the files an earlier run made for this image.
func (r *run) sbom(ctx context.Context) (string, bool, error) {
	dir := r.out.SBOMs()
	if r.o.DryRun {
		return "would write SPDX 2.3 and CycloneDX 1.6 SBOMs to " + dir, false, nil
	}
	docs, err := r.earlierSBOMs()
	if err != nil {
		return "", false, err
	}
	skipped := docs != nil
	if !skipped {
		if docs, err = r.p.Cataloger.SBOMs(ctx, r.built, r.repo.String()); err != nil {
			return "", false, err
		}
		if err := r.checkSBOMs(docs); err != nil {
			return "", false, err
		}
		if _, err := dist.WriteSBOMs(dir, docs); err != nil {
			return "", false, err
		}
	}
	r.docs = docs
	r.sboms = nil
	for _, d := range docs {
		r.sboms = append(r.sboms, dist.SBOMRecord(d))
	}
	if skipped {
		return fmt.Sprintf("%s for this image already in %s", wording.Count(len(docs), "SBOM"), dir), true, nil
	}
	return fmt.Sprintf("%s in %s, cross-checked against the lock", wording.Count(len(docs), "SBOM"), dir), false, nil
}

// earlierSBOMs returns every expected SBOM from the files, or nil if one
// is missing or was made for another image.
func (r *run) earlierSBOMs() ([]sbom.Document, error) {
	var out []sbom.Document
	for _, pl := range r.built.Record.Platforms {
		for _, f := range sbom.Formats() {
			d, err := dist.ReadSBOM(r.out.SBOMs(), r.repo.String(), pl.Platform, pl.Digest, f)
			if err != nil || d == nil {
				return nil, err
			}
			out = append(out, *d)
		}
	}
	return out, nil
}

// checkSBOMs proves the documents are this image's: one per platform
// and format, each made for repo@digest.
func (r *run) checkSBOMs(docs []sbom.Document) error {
	var missing []string
	for _, pl := range r.built.Record.Platforms {
		for _, f := range sbom.Formats() {
			i := slices.IndexFunc(docs, func(d sbom.Document) bool { return d.Platform == pl.Platform && d.Format == f })
			if i < 0 {
				missing = append(missing, fmt.Sprintf("%s %s", pl.Platform, f))
				continue
			}
			ok, err := sbom.MadeFor(docs[i].Bytes, f, r.repo.String(), pl.Digest)
			if err != nil || !ok || docs[i].Digest != pl.Digest {
				return fmt.Errorf("the %s SBOM of %s was not made for %s@%s (%v)", f, pl.Platform, r.repo, pl.Digest, err)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no SBOM was made for %s", strings.Join(missing, ", "))
	}
	return nil
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
	// --db wins over scan.db; messages name whichever the path came from.
	o.DB.PathInConfig = o.DB.Path == "" && c.DB != ""
	if o.DB.Path == "" {
		o.DB.Path = c.DB
	}
	if o.DB.MaxAge == 0 {
		o.DB.MaxAge = c.MaxDBAge.Duration
	}
	if o.DB.Now == nil {
		o.DB.Now = r.o.Now
	}
	// release has no --max-db-age: messages name harden.yaml's.
	o.DB.MaxAgeInConfig = true
	return o, nil
}

// scan matches each platform's SPDX SBOM against the vulnerability
// database and stops the release, before anything is pushed, on findings
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
	plats := r.built.Record.Platforms
	var kept []scan.PlatformReport
	for _, pl := range plats {
		pr, err := r.out.ReadScan(pl.Platform, pl.Digest)
		if err != nil {
			return "", false, err
		}
		if pr == nil || pr.Report.Check(so.Gate) != nil {
			kept = nil
			break
		}
		kept = append(kept, *pr)
	}
	if len(kept) == len(plats) {
		r.scans = kept
		return fmt.Sprintf("%s for this image already in %s", wording.Count(len(kept), "report"), r.out.Scans()), true, nil
	}
	st := r.db // opened by the preflight
	r.logf("vulnerability database %s", dbStatus(*st))
	var out []scan.PlatformReport
	for _, pl := range plats {
		i := slices.IndexFunc(r.docs, func(d sbom.Document) bool { return d.Platform == pl.Platform && d.Format == sbom.SPDXJSON })
		if i < 0 {
			return "", false, fmt.Errorf("no SPDX SBOM of %s to scan", pl.Platform)
		}
		rep, err := r.p.Scanner.Scan(ctx, r.docs[i].Bytes, scan.Options{VEX: so.VEX, Now: r.o.Now})
		if err != nil {
			return "", false, fmt.Errorf("scan %s: %w", pl.Platform, err)
		}
		if err := rep.Check(so.Gate); err != nil {
			return "", false, fmt.Errorf("%s: %w", pl.Platform, err)
		}
		out = append(out, scan.PlatformReport{Platform: pl.Platform, Digest: pl.Digest, Report: rep})
	}
	for _, pr := range out {
		if _, err := r.out.WriteScan(pr); err != nil {
			return "", false, err
		}
	}
	r.scans = out
	findings, suppressed := 0, 0
	for _, pr := range out {
		findings += len(pr.Report.Findings)
		suppressed += len(pr.Report.Suppressed)
	}
	return fmt.Sprintf("%s, %d suppressed by VEX, none at or above %s with a fix (database built %s)",
		wording.Count(findings, "finding"), suppressed, so.Gate.FailOn, st.Built.Format("2006-01-02")), false, nil
}

// publish pushes by digest without tags: tags come only after the
// release has verified. The publication record is written at once, so
// a rerun finds what was pushed.
func (r *run) publish(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		return "would push by digest to " + r.repo.String(), false, nil
	}
	want := r.repo.Digest(r.built.Record.Digest)
	if r.state.Published == want.String() {
		if rel, err := dist.ReadRelease(r.out.Release()); err == nil && rel.Image == want.String() && r.p.Publisher.Present(ctx, rel) == nil {
			r.image, r.rel = want, rel
			return want.String() + " is in the registry (index and every platform manifest)", true, nil
		}
	}
	rel, err := r.p.Publisher.Publish(ctx, r.repo, r.built)
	if err != nil {
		return "", false, err
	}
	if rel.Image != want.String() {
		return "", false, fmt.Errorf("pushed %s, but the build is %s", rel.Image, want)
	}
	// The push read back the index; the platform manifests are proved
	// here, so the stages after this one sign a complete image.
	if err := r.p.Publisher.Present(ctx, rel); err != nil {
		return "", false, fmt.Errorf("after the push: %w", err)
	}
	r.image, r.rel = want, rel
	r.created.published = true
	if err := dist.WriteRelease(r.out.Release(), rel); err != nil {
		return "", false, fmt.Errorf("image pushed as %s, but: %w", rel.Image, err)
	}
	r.state.Published = rel.Image
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return rel.Image, false, nil
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
	info, err := r.p.Signer.Open(ctx)
	if err != nil {
		return "", false, err
	}
	r.signer = info
	r.logf("signing as %s", info.Identity)
	// The attestations are signed in the same batch: their statements
	// are built first, so nothing is signed when one cannot be, and the
	// log is waited for once. The attest stage reports them.
	signs, atts, err := r.p.Signer.SignAndAttest(ctx, r.rel, r.facts(), attestTypes)
	if err != nil {
		return "", false, err
	}
	r.created.signed, r.created.attested = !allPresent(signs), !allPresent(atts)
	r.state.Signed, r.state.Attested = true, true
	r.attested = atts
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return summarize(signs), allPresent(signs), nil
}

func (r *run) facts() *attest.Facts {
	return &attest.Facts{Record: r.built.Record, Release: r.rel, SBOMs: r.docs, Scans: r.scans}
}

// attestTypes are the statements a release attaches.
var attestTypes = append(slices.Clone(attest.AllTypes), attest.TypeVuln)

func (r *run) attest(context.Context) (string, bool, error) {
	if r.o.DryRun {
		return "would attest " + strings.Join(attestTypes, ", "), false, nil
	}
	rep := r.attested
	if rep == nil {
		return "", false, errors.New("the sign stage did not sign the attestations")
	}
	return summarize(rep) + ", signed in the sign stage's batch", allPresent(rep), nil
}

// summarize counts what a sign or attest stage attached and found.
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
		return fmt.Sprintf("%s already present and valid (%s)", wording.Count(present, "entry", "entries"), rep.Storage)
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
