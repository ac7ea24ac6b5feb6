package release

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/lockcheck"
	"github.com/harden-dev/harden/internal/upstream"
)

// A lock without provenance records gets no provenance check (no trusted
// root, no network); one with records gets the cache-only check against
// --upstream-trusted-root.
func TestLockUpstreamSettings(t *testing.T) {
	w := newWorld(t)
	o := w.options(w.project(repoA), t.TempDir())
	o.UpstreamTrustedRoot = "pypi-root.json"
	if s := upstreamSettings(&o); s != nil {
		t.Errorf("a lock without provenance records is checked: %+v", s)
	}
	o.Project.Lock.Requirements = append(o.Project.Lock.Requirements, lock.Requirement{Name: "six", Key: "six",
		Provenance: []lock.FileProvenance{{Filename: "six-1.16.0-py3-none-any.whl"}}})
	s := upstreamSettings(&o)
	if s == nil || *s != (upstream.Settings{TrustedRoot: "pypi-root.json", CacheOnly: true}) {
		t.Errorf("settings %+v", s)
	}
}

func TestLockWarningsAndErr(t *testing.T) {
	rep := &lockcheck.Report{Lock: "requirements.lock", Targets: []lockcheck.TargetReport{{Platform: "linux/amd64", Problems: []lockcheck.Problem{}}},
		Warnings: []lockcheck.Problem{{Message: "stray pin"}}}
	if got := lockWarnings(rep); !slices.Equal(got, []string{"stray pin"}) || lockErr(rep) != nil {
		t.Errorf("no provenance check: warnings %q, error %v", got, lockErr(rep))
	}
	rep.Upstream = &upstream.Report{Warnings: []string{"upstream provenance not checked for 1 pin: six 1.16.0"},
		Violations: []upstream.Violation{{Package: "six", Version: "1.16.0", File: "six-1.16.0-py3-none-any.whl", Message: "not in the provenance cache", Fix: "run harden lock --check"}}}
	if got := lockWarnings(rep); !slices.Equal(got, []string{"stray pin", "upstream provenance not checked for 1 pin: six 1.16.0"}) {
		t.Errorf("warnings %q", got)
	}
	err := lockErr(rep)
	if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.HasPrefix(err.Error(), "the upstream provenance the lock records does not check out (see harden lock --check): ") ||
		!strings.Contains(err.Error(), "six 1.16.0 (six-1.16.0-py3-none-any.whl): not in the provenance cache; run harden lock --check") {
		t.Errorf("error %v", err)
	}
	rep.Targets[0].Problems = []lockcheck.Problem{{Message: "six is not pinned", Fix: "run harden lock"}}
	if err := lockErr(rep); errs.ExitCode(err) != errs.CodeCheckFailed || !strings.HasPrefix(err.Error(), "the lock is not consistent; fix it with harden lock") {
		t.Errorf("error %v", err)
	}
}

// The lock check's warnings reach the release log; its failure stops the
// release before the build.
func TestLockStageUpstream(t *testing.T) {
	w := newWorld(t)
	w.lockWarnings = []string{"upstream provenance not checked for 1 pin: six 1.16.0 (not in the provenance cache; run harden lock --check against the index to fetch and cache it)"}
	o := w.options(w.project(repoA), t.TempDir())
	logs := &logLines{}
	o.Progress = logs
	if _, _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(logs.lines, "warning: "+w.lockWarnings[0]) {
		t.Errorf("release log %q lacks the lock warning", logs.lines)
	}

	w = newWorld(t)
	w.fail["lock"] = errs.Check(errors.New("upstream provenance: six 1.16.0: not in the provenance cache"))
	o = w.options(w.project(repoA), t.TempDir())
	_, _, err := Run(context.Background(), o)
	if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "six 1.16.0: not in the provenance cache") {
		t.Errorf("error %v", err)
	}
	if calls := w.calls(); slices.Contains(calls, "build") {
		t.Errorf("built after a failed lock stage: %q", calls)
	}
}
