package release

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/pyenv"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/scan"
)

// These tests need no fixtures, runtime, registry or Sigstore: they run
// under go test -short.

func testProject(t *testing.T, repo string) *project.Project {
	t.Helper()
	return &project.Project{Config: &config.Config{Path: filepath.Join(t.TempDir(), "harden.yaml"), Name: "app", Repository: repo}}
}

func writeState(t *testing.T, out string, s dist.State) {
	t.Helper()
	b, _ := json.Marshal(s)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dist.Dir(out).State(), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

const repoA, repoB = "registry.example/a/app", "registry.example/b/app"

// The whole pipeline against the fakes: the calls each stage makes, in
// order, and what a rerun skips.
func TestStageRules(t *testing.T) {
	type rerun struct {
		name    string
		prepare func(w *world, o *Options) // between the first release and the rerun
		calls   []string                   // the rerun's calls
		status  map[string]string          // some stages' status in the rerun
	}
	full := []string{"check-runtime", "check-signer", "check-push " + repoA, "check-db", "lock", "build", "test", "sbom", "scan", "push " + repoA, "sign", "attest", "verify"}
	// Sign and attest always ask the registry what is there; they
	// attach nothing that is.
	pre := []string{"check-runtime", "check-signer", "check-push " + repoA, "check-db", "lock"}
	cases := []rerun{
		{"unchanged: every stage proves its work and skips", nil, append(pre, "sign", "attest", "verify"),
			map[string]string{StageBuild: "skipped", StageTest: "skipped", StageSBOM: "skipped", StageScan: "skipped", StagePublish: "skipped", StageSign: "skipped", StageAttest: "skipped", StageVerify: "done"}},
		{"config-only edit: rebuilt and tested, same digest, nothing attached twice", func(w *world, o *Options) {
			appendFile(w.t, o.Project.Config.Path, "# a comment\n")
		}, append(pre, "build", "test", "push "+repoA, "sign", "attest", "verify"),
			map[string]string{StageBuild: "done", StageTest: "done", StageSBOM: "skipped", StageScan: "skipped", StagePublish: "done", StageSign: "skipped", StageAttest: "skipped"}},
		{"another epoch: a new build, everything after it again", func(w *world, o *Options) {
			o.SourceDateEpoch = "1700000001"
		}, append(pre, "build", "test", "push "+repoA, "sign", "attest", "verify"), map[string]string{StageBuild: "done", StageSign: "skipped"}},
		{"build output deleted: rebuilt", func(w *world, o *Options) {
			w.onDisk = false
		}, append(pre, "build", "test", "push "+repoA, "sign", "attest", "verify"), map[string]string{StageBuild: "done"}},
		{"image deleted from the registry: pushed again, entries kept", func(w *world, o *Options) {
			w.pushed = map[string]bool{}
		}, append(pre, "push "+repoA, "sign", "attest", "verify"), map[string]string{StagePublish: "done", StageSign: "skipped"}},
		{"SBOM files deleted: made again, not re-attested", func(w *world, o *Options) {
			if err := os.RemoveAll(dist.Dir(o.Out).SBOMs()); err != nil {
				w.t.Fatal(err)
			}
		}, append(pre, "sbom", "sign", "attest", "verify"), map[string]string{StageSBOM: "done", StageAttest: "skipped"}},
		{"scan reports deleted: scanned again", func(w *world, o *Options) {
			if err := os.RemoveAll(dist.Dir(o.Out).Scans()); err != nil {
				w.t.Fatal(err)
			}
		}, append(pre, "scan", "sign", "attest", "verify"), map[string]string{StageScan: "done", StageAttest: "skipped"}},
		{"a finding the gate now fails: stop before anything else", func(w *world, o *Options) {
			if err := os.RemoveAll(dist.Dir(o.Out).Scans()); err != nil {
				w.t.Fatal(err)
			}
			w.findings = []scan.Finding{{ID: "CVE-1", Severity: "Critical", Package: "openssl", Version: "1", FixState: "fixed", FixedIn: []string{"2"}}}
		}, append(pre, "scan"), map[string]string{StageScan: "failed"}},
		{"state file deleted: rebuilt, pushed, entries found present", func(w *world, o *Options) {
			if err := os.Remove(dist.Dir(o.Out).State()); err != nil {
				w.t.Fatal(err)
			}
		}, append(pre, "build", "test", "push "+repoA, "sign", "attest", "verify"), map[string]string{StageSign: "skipped", StageAttest: "skipped"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			o := w.options(w.project(repoA), t.TempDir())
			rec, results, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.calls(); !slices.Equal(got, full) {
				t.Fatalf("first release calls\n got %q\nwant %q", got, full)
			}
			for _, r := range results {
				if r.Status != "done" {
					t.Errorf("first release: %s %s", r.Stage, r.Status)
				}
			}
			if !rec.Complete() || len(rec.Signatures) != 4 || len(rec.Attestations) != 16 {
				t.Errorf("first record: complete %v, %d signatures, %d attestations", rec.Complete(), len(rec.Signatures), len(rec.Attestations))
			}
			entries := len(w.entries)
			if c.prepare != nil {
				c.prepare(w, &o)
			}
			_, results, err = Run(context.Background(), o)
			if got := w.calls(); !slices.Equal(got, c.calls) {
				t.Errorf("rerun calls\n got %q\nwant %q", got, c.calls)
			}
			st := statuses(results)
			for stage, want := range c.status {
				if st[stage] != want {
					t.Errorf("rerun %s: %s, want %s (%v)", stage, st[stage], want, err)
				}
			}
			if (err != nil) != (st[StageScan] == "failed") {
				t.Errorf("rerun: %v", err)
			}
			if len(w.entries) != entries {
				t.Errorf("entries went from %d to %d", entries, len(w.entries))
			}
		})
	}
}

// A stop at any stage: what was called, what the error says about the
// registry, and the exit code of the cause.
func TestStopAtEachStage(t *testing.T) {
	cases := []struct {
		fail     string // the failing call
		stage    string
		pushed   bool
		rollback bool
	}{
		{"lock", StageLock, false, false},
		{"build", StageBuild, false, false},
		{"test", StageTest, false, false},
		{"sbom", StageSBOM, false, false},
		{"scan", StageScan, false, false},
		{"push", StagePublish, false, false},
		{"sign", StageSign, true, true},
		// The sign stage signs the attestations in its batch.
		{"attest", StageSign, true, true},
		{"verify", StageVerify, true, true},
	}
	for _, c := range cases {
		t.Run(c.stage, func(t *testing.T) {
			w := newWorld(t)
			w.fail[c.fail] = errFault
			o := w.options(w.project(repoA), t.TempDir())
			_, results, err := Run(context.Background(), o)
			var stop *StopError
			if !errors.As(err, &stop) || stop.Stage != c.stage {
				t.Fatalf("stopped at %v, want %s", err, c.stage)
			}
			if errs.ExitCode(err) != errs.CodeUnreachable {
				t.Errorf("exit %d, want %d (the cause's)", errs.ExitCode(err), errs.CodeUnreachable)
			}
			if last := results[len(results)-1]; last.Stage != c.stage || last.Status != "failed" {
				t.Errorf("last stage %+v", last)
			}
			if (stop.Published != "") != c.pushed || (len(w.pushed) > 0) != c.pushed {
				t.Errorf("published %q, registry %v; want pushed %v", stop.Published, w.pushed, c.pushed)
			}
			msg := err.Error()
			if !c.pushed && !strings.Contains(msg, "nothing was pushed to "+repoA) {
				t.Errorf("the stop does not say nothing was pushed:\n%s", msg)
			}
			if got := strings.Contains(msg, "to roll back"); got != c.rollback {
				t.Errorf("roll-back advice %v, want %v:\n%s", got, c.rollback, msg)
			}
			if len(w.tags) > 0 {
				t.Errorf("tagged after a failure: %v", w.tags)
			}
			// The rerun finishes, and does not repeat what was done.
			delete(w.fail, c.fail)
			w.calls()
			if _, _, err := Run(context.Background(), o); err != nil {
				t.Fatalf("rerun: %v", err)
			}
			calls := w.calls()
			if n := count(calls, "push "); c.pushed && n != 0 {
				t.Errorf("the rerun pushed again: %q", calls)
			}
			if n := count(calls, "build"); c.stage != StageLock && c.stage != StageBuild && n != 0 {
				t.Errorf("the rerun built again: %q", calls)
			}
		})
	}
}

// Smoke-test failures and a failed self-verification are check
// failures (exit 1); the image is never pushed, or never tagged.
func TestChecksThatFail(t *testing.T) {
	w := newWorld(t)
	w.smokeFails = true
	o := w.options(w.project(repoA), t.TempDir())
	_, _, err := Run(context.Background(), o)
	if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "smoke tests failed") || len(w.pushed) > 0 {
		t.Errorf("smoke failure: exit %d, pushed %v: %v", errs.ExitCode(err), w.pushed, err)
	}
	w.smokeFails, w.unverified = false, true
	o.Tags = []string{"latest"}
	_, _, err = Run(context.Background(), o)
	var stop *StopError
	if !errors.As(err, &stop) || stop.Stage != StageVerify || errs.ExitCode(err) != errs.CodeCheckFailed || len(w.tags) > 0 {
		t.Errorf("unverified: exit %d, tags %v: %v", errs.ExitCode(err), w.tags, err)
	}
	if _, err := os.Stat(dist.Dir(o.Out).Summary()); err == nil {
		t.Error("release.md written for an unverified image")
	}
}

// logLines is a Progress that keeps the log lines.
type logLines struct {
	nopProgress
	lines []string
}

func (l *logLines) Log(msg string) { l.lines = append(l.lines, msg) }

// The test stage's warnings (no smoke: tests) reach the release log, and
// the dry run says what the stage will run.
func TestSmokeWarningsShown(t *testing.T) {
	w := newWorld(t)
	w.smokeWarnings = []string{"no smoke: tests are defined"}
	o := w.options(w.project(repoA), t.TempDir())
	o.DryRun = true
	_, plan, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(plan, func(r StageResult) bool { return r.Stage == StageTest })
	if i < 0 || !strings.Contains(plan[i].Detail, "no smoke: tests defined") {
		t.Errorf("dry-run plan %+v does not say the test stage runs the entrypoint alone", plan)
	}
	logs := &logLines{}
	o.DryRun, o.Progress = false, logs
	if _, _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(logs.lines, "warning: no smoke: tests are defined") {
		t.Errorf("release log %q has no smoke warning", logs.lines)
	}
}

// Tags move only after verification, and a version tag never moves.
func TestTagsAfterVerify(t *testing.T) {
	w := newWorld(t)
	o := w.options(w.project(repoA), t.TempDir())
	o.Tags = []string{"latest", "stable"}
	rec, _, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	calls := w.calls()
	if i, j := slices.Index(calls, "verify"), slices.Index(calls, "tag latest"); i < 0 || j < i {
		t.Errorf("tagged before verifying: %q", calls)
	}
	if !slices.Equal(rec.Tags, o.Tags) || w.tags[repoA+":stable"] != rec.Digest {
		t.Errorf("tags %v, registry %v", rec.Tags, w.tags)
	}
	w.tags[repoA+":1.0.0-r1"] = "sha256:" + strings.Repeat("9", 64)
	r := &run{o: o, p: o.Parts, repo: mustRepo(t, repoA), image: mustRepo(t, repoA).Digest(rec.Digest)}
	if err := r.checkVersionTag(context.Background(), "1.0.0-r1"); errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "never moves") {
		t.Errorf("a moved version tag: %v", err)
	}
	if err := r.checkVersionTag(context.Background(), "1.0.0-r2"); err != nil {
		t.Errorf("a new version tag: %v", err)
	}
}

// A release to another repository does not inherit the registry facts
// of the last one: its failure must not describe, or advise deleting,
// an image in a repository it never touched.
func TestStateBoundToRepository(t *testing.T) {
	w := newWorld(t)
	out := t.TempDir()
	if _, _, err := Run(context.Background(), w.options(w.project(repoA), out)); err != nil {
		t.Fatal(err)
	}
	w.calls()
	w.fail["push"] = errFault
	o := w.options(w.project(repoB), out)
	// Same inputs, so the build is reused: the project's files are
	// copied from A's.
	o.Project = w.project(repoB)
	_, _, err := Run(context.Background(), o)
	msg := err.Error()
	if strings.Contains(msg, repoA) || strings.Contains(msg, "release.json is not written") || strings.Contains(msg, "roll back") {
		t.Errorf("a release to %s describes %s:\n%s", repoB, repoA, msg)
	}
	if !strings.Contains(msg, "nothing was pushed to "+repoB) {
		t.Errorf("the stop does not say nothing was pushed to %s:\n%s", repoB, msg)
	}
	// Nothing happened in B, so the state file still describes A.
	st, err := dist.Dir(out).ReadState()
	if err != nil || st.Repository != repoA || st.Published != repoA+"@"+w.rec.Digest || !st.Tested {
		t.Errorf("state after the stop: %+v %v", st, err)
	}
	// An older harden's state names no repository: its registry facts
	// are not trusted either.
	writeState(t, out, dist.State{Schema: dist.StateSchema, Digest: w.rec.Digest, Published: repoA + "@" + w.rec.Digest, Signed: true, Verified: true})
	_, _, err = Run(context.Background(), o)
	if msg := err.Error(); strings.Contains(msg, repoA) {
		t.Errorf("an old state file's repository reported:\n%s", msg)
	}
}

// Roll-back advice names only what this run created.
func TestRollbackAdviceOnlyForThisRun(t *testing.T) {
	w := newWorld(t)
	o := w.options(w.project(repoA), t.TempDir())
	w.fail["verify"] = errFault
	_, _, err := Run(context.Background(), o)
	if msg := err.Error(); !strings.Contains(msg, "to roll back") || !strings.Contains(msg, "this run pushed it, signed it, attested it") {
		t.Errorf("this run's push not offered for roll-back:\n%s", msg)
	}
	_, _, err = Run(context.Background(), o)
	if msg := err.Error(); strings.Contains(msg, "to roll back") || !strings.Contains(msg, "from an earlier run") {
		t.Errorf("an earlier run's image offered for deletion:\n%s", msg)
	}
}

// Key and keyless releases with the same storage attach and record the
// same number of entries; the key release's summary has no column of
// dashes for a log it does not have.
func TestKeyAndKeylessAgree(t *testing.T) {
	var recs []*Record
	for _, keyless := range []bool{true, false} {
		w := newWorld(t)
		w.keyless = keyless
		o := w.options(w.project(repoA), t.TempDir())
		rec, results, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		md := string(rec.Markdown())
		if keyless != strings.Contains(md, "log index") {
			t.Errorf("keyless %v: log index column %v:\n%s", keyless, !keyless, md)
		}
		if strings.Contains(md, "| – | – |") {
			t.Errorf("keyless %v: a row of dashes:\n%s", keyless, md)
		}
		if !keyless {
			if rec.Verification.Command == "" || !strings.Contains(rec.Verification.Command, "--key") {
				t.Errorf("key release verify command %q", rec.Verification.Command)
			}
			if _, err := os.Stat(dist.Dir(o.Out).PublicKey()); err != nil {
				t.Errorf("no public key beside the record: %v", err)
			}
		}
		st := statuses(results)
		if st[StageSign] != "done" {
			t.Errorf("sign %s", st[StageSign])
		}
	}
	if len(recs[0].Signatures) != len(recs[1].Signatures) || len(recs[0].Attestations) != len(recs[1].Attestations) {
		t.Errorf("keyless %d+%d entries, key %d+%d", len(recs[0].Signatures), len(recs[0].Attestations), len(recs[1].Signatures), len(recs[1].Attestations))
	}
	if recs[0].Stages[len(recs[0].Stages)-1].Detail != "" && recs[0].Stages[6].Detail != recs[1].Stages[6].Detail {
		t.Errorf("sign summaries differ: %q, %q", recs[0].Stages[6].Detail, recs[1].Stages[6].Detail)
	}
}

// A dry run runs the preflight for real and plans the rest: no build,
// push or signature, no file.
func TestDryRunPlansAfterPreflight(t *testing.T) {
	w := newWorld(t)
	o := w.options(w.project(repoA), filepath.Join(t.TempDir(), "dist"))
	o.DryRun = true
	rec, results, err := Run(context.Background(), o)
	if err != nil || rec != nil {
		t.Fatalf("dry run: %v %v", rec, err)
	}
	if got, want := w.calls(), []string{"check-runtime", "check-signer", "check-push " + repoA, "check-db", "lock"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	for _, r := range results {
		if want := map[bool]string{true: "done", false: "planned"}[r.Stage == StagePreflight]; r.Status != want {
			t.Errorf("%s %s, want %s", r.Stage, r.Status, want)
		}
	}
	if _, err := os.Stat(o.Out); err == nil {
		t.Errorf("a dry run wrote %s", o.Out)
	}
	// Each preflight item fails on its own, and names itself.
	for _, item := range []string{"check-runtime", "check-signer", "check-push", "check-db"} {
		w.fail = map[string]error{item: errs.Input(errors.New("bad " + item))}
		_, results, err := Run(context.Background(), o)
		if !strings.Contains(err.Error(), "1 of 4 preflight checks failed") || !strings.Contains(err.Error(), "bad "+item) || len(results) != 1 {
			t.Errorf("%s: %v (%d stages)", item, err, len(results))
		}
		if calls := w.calls(); count(calls, "lock") != 0 {
			t.Errorf("%s: the release went on: %q", item, calls)
		}
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(s)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Every preflight item is checked and reported before anything is
// built; the release stops there with the exit code of the problems, in
// a dry run too.
func TestPreflightReportsEveryProblem(t *testing.T) {
	for _, dry := range []bool{false, true} {
		out := t.TempDir()
		o := Options{
			Project: testProject(t, "127.0.0.1:1/org/app"), Out: out, DryRun: dry, Runtime: "bogus",
			Signer:   attest.SignerParams{TrustedRoot: filepath.Join(out, "no-root.json"), SigningConfig: filepath.Join(out, "no-config.json")},
			Registry: registry.New(registry.WithBackoff(remote.Backoff{Steps: 1})),
			Scan:     ScanOptions{},
		}
		o.Project.Config.Scan.DB = filepath.Join(out, "no-db")
		_, results, err := Run(context.Background(), o)
		var stop *StopError
		if !errors.As(err, &stop) || stop.Stage != StagePreflight {
			t.Fatalf("dry=%v: %v", dry, err)
		}
		for _, want := range []string{"4 of 4 preflight checks failed", "runtime: ", `unknown runtime "bogus"`, "signer: ", "registry: ", "vulnerability database: ", "nothing was pushed to 127.0.0.1:1/org/app"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("dry=%v: the stop lacks %q:\n%v", dry, want, err)
			}
		}
		if code := errs.ExitCode(err); code != errs.CodeInput && code != errs.CodeUnreachable {
			t.Errorf("dry=%v: exit code %d", dry, code)
		}
		if len(results) != 1 || results[0].Stage != StagePreflight || results[0].Status != "failed" {
			t.Errorf("dry=%v: results %+v, want only a failed preflight", dry, results)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("dry=%v: the preflight wrote %v", dry, ents)
		}
	}
}

// With VSA set, the verify stage signs a summary of its verdict and
// attaches it to every subject, before any tag; a rerun attaches none.
func TestReleaseVSA(t *testing.T) {
	w := newWorld(t)
	o := w.options(w.project(repoA), t.TempDir())
	o.VSA, o.Tags = true, []string{"latest"}
	rec, _, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	calls := w.calls()
	if i, j, k := slices.Index(calls, "verify"), slices.Index(calls, "vsa"), slices.Index(calls, "tag latest"); i < 0 || j != i+1 || k < j {
		t.Errorf("calls %q: want verify, vsa, then the tag", calls)
	}
	if !rec.Verification.VSA || !strings.Contains(rec.Stages[9].Detail, "VSA") {
		t.Errorf("record: %+v, stage %+v", rec.Verification, rec.Stages[9])
	}
	n := len(w.entries)
	if _, _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(w.entries) != n {
		t.Errorf("a rerun attached %d more entries", len(w.entries)-n)
	}
	w.fail["vsa"] = errFault
	_, _, err = Run(context.Background(), o)
	var stop *StopError
	if !errors.As(err, &stop) || stop.Stage != StageVerify || !strings.Contains(err.Error(), "its VSA") {
		t.Errorf("a VSA that cannot be attached: %v", err)
	}
}

// The lock check of a resumed release describes the base by the build it
// resumes instead of reading the base again; a changed input, or a build
// output that no longer proves intact, reads it again.
func TestLockCheckReusesTheBuild(t *testing.T) {
	w := newWorld(t)
	out := t.TempDir()
	pr := w.project(repoA)
	for range 2 {
		if _, _, err := Run(context.Background(), w.options(pr, out)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(pr.Config.Path, []byte("name: app # edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Run(context.Background(), w.options(pr, out)); err != nil {
		t.Fatal(err)
	}
	w.onDisk = false // the layout no longer verifies
	if _, _, err := Run(context.Background(), w.options(pr, out)); err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true, false, false}; !slices.Equal(w.lockReuse, want) {
		t.Errorf("lock checks given a build: %v, want %v", w.lockReuse, want)
	}
}

func TestRecordTargets(t *testing.T) {
	base := "registry.example/python@sha256:" + strings.Repeat("0", 64)
	py := pyenv.Env{Version: "3.11.2", Major: 3, Minor: 11, GlibcMajor: 2, GlibcMinor: 36, Arch: "x86_64"}
	built := func(edit func(*buildrecord.Record)) *Built {
		rec := &buildrecord.Record{Base: buildrecord.BaseRecord{Digest: "sha256:" + strings.Repeat("0", 64)},
			Platforms: []buildrecord.PlatformRecord{{Platform: "linux/amd64", Python: py}}}
		if edit != nil {
			edit(rec)
		}
		return &Built{Record: rec}
	}
	cfg := &config.Config{Base: base, Platforms: []string{"linux/amd64"}}
	for _, c := range []struct {
		name    string
		reuse   *Built
		want    int // targets; 0: inspect the base
		wantErr string
	}{
		{name: "no build", reuse: nil},
		{name: "same base and platforms", reuse: built(nil), want: 1},
		{name: "another base", reuse: built(func(r *buildrecord.Record) { r.Base.Digest = "sha256:" + strings.Repeat("1", 64) })},
		{name: "another platform", reuse: built(func(r *buildrecord.Record) { r.Platforms[0].Platform = "linux/arm64" })},
		{name: "more platforms", reuse: built(func(r *buildrecord.Record) {
			r.Platforms = append(r.Platforms, buildrecord.PlatformRecord{Platform: "linux/arm64", Python: py})
		})},
		{name: "record without Python", reuse: built(func(r *buildrecord.Record) { r.Platforms[0].Python = pyenv.Env{} })},
		{name: "unusable Python", reuse: built(func(r *buildrecord.Record) { r.Platforms[0].Python.Version = "3" }), wantErr: "linux/amd64 in the build record"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := recordTargets(c.reuse, cfg)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || len(got) != c.want {
				t.Fatalf("%d targets, %v; want %d", len(got), err, c.want)
			}
			if c.want > 0 && (got[0].Platform != "linux/amd64" || got[0].Wheel.GlibcMinor != 36 || got[0].Wheel.PythonMinor != 11 || got[0].Env["python_full_version"] != "3.11.2") {
				t.Errorf("target %+v", got[0])
			}
		})
	}
}
