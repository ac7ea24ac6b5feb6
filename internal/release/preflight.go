package release

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/scan"
)

// preflight checks, before anything is built or pushed, what the later
// stages need from outside: a runtime for the smoke tests, a signing
// identity Fulcio accepts (or a key that loads), push access to the
// repository and a fresh enough vulnerability database. Every item is
// checked and reported, so one run names every problem. It runs with
// --dry-run too: that is what a dry run is for.
func (r *run) preflight(ctx context.Context) (string, bool, error) {
	items := []struct {
		name  string
		check func(context.Context) (string, error)
	}{
		{"runtime", r.p.Tester.Usable},
		{"signer", r.p.Signer.Check},
		{"registry", func(ctx context.Context) (string, error) {
			if err := r.p.Publisher.CheckPush(ctx, r.repo); err != nil {
				return "", err
			}
			return "may push to " + r.repo.String(), nil
		}},
		{"vulnerability database", r.openDB},
	}
	var ok []string
	var failed []error
	for _, it := range items {
		detail, err := it.check(ctx)
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", it.name, err))
			r.logf("preflight %s: FAIL: %v", it.name, err)
			continue
		}
		r.logf("preflight %s: %s", it.name, detail)
		ok = append(ok, it.name)
	}
	if len(failed) > 0 {
		return "", false, fmt.Errorf("%d of %d preflight checks failed (nothing was built or pushed):\n  %w", len(failed), len(items), lineErrors(failed))
	}
	return strings.Join(ok, ", ") + " ready", false, nil
}

// openDB opens the scan stage's database now, so a missing, stale or
// unreachable one stops the release before the push; the scan stage
// reuses it.
func (r *run) openDB(ctx context.Context) (string, error) {
	so, err := r.scanSettings()
	if err != nil {
		return "", err
	}
	st, err := r.p.Scanner.Open(ctx, so.DB)
	if err != nil {
		return "", err
	}
	r.db = &st
	return dbStatus(st), nil
}

func dbStatus(st scan.DBStatus) string {
	return fmt.Sprintf("%s, built %s (%s)", st.Schema, st.Built.Format(time.RFC3339), st.Source)
}

// lineErrors are errors one per indented line, all of them reachable
// for errors.Is and errs.ExitCode.
type lineErrors []error

func (l lineErrors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n  ")
}

func (l lineErrors) Unwrap() []error { return l }
