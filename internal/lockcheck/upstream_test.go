package lockcheck

import (
	"bytes"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/wheels"
)

// TestUpstreamInReport: provenance violations fail the check and show in
// the text after the coverage.
func TestUpstreamInReport(t *testing.T) {
	rep := &Report{Lock: "requirements.lock", Targets: []TargetReport{{Platform: "linux/amd64", Python: "3.11.2", Pins: 1, Problems: []Problem{}}},
		Upstream: &upstream.Report{Pins: 1, Publishers: []upstream.PublisherPins{}, Unattested: []string{"six 1.16.0"}, Unchecked: []string{},
			Violations: []upstream.Violation{{Package: "six", Version: "1.16.0", File: "six-1.16.0-py3-none-any.whl",
				Message: "the index offers no attestation for it, though an earlier release was attested", Expected: "GitHub benjaminp/six release.yml (requirements.lock)",
				Found: "no attestation", Fix: "run harden lock --upgrade-package six"}}}}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	want := "linux/amd64 (Python 3.11.2): 1 pin consistent\n" +
		"upstream provenance: 0 of 1 pin attested\n  not attested: six 1.16.0\n" +
		"  six 1.16.0 (six-1.16.0-py3-none-any.whl): the index offers no attestation for it, though an earlier release was attested\n" +
		"    expected: GitHub benjaminp/six release.yml (requirements.lock)\n    found: no attestation\n    fix: run harden lock --upgrade-package six\n"
	if buf.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
	err := rep.Err()
	if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "requirements.lock is inconsistent (1 problem(s)):\n  upstream provenance: six 1.16.0 (six-1.16.0-py3-none-any.whl)") {
		t.Errorf("error %v", err)
	}
}

func TestLockedFiles(t *testing.T) {
	h := func(c string) string { return strings.Repeat(c, 64) }
	lf := &lock.File{Requirements: []lock.Requirement{{Name: "Six", Key: "six", Version: "1.16.0", Hashes: []string{h("a"), h("b"), h("c")},
		Provenance: []lock.FileProvenance{{Filename: "six-1.16.0-py2.py3-none-any.whl", SHA256: h("b")}}}}}
	src := &memoSource{files: map[string][]wheels.File{"six": {
		{Filename: "six-1.16.0-py3-none-any.whl", SHA256: h("a")},
		{Filename: "six-1.16.0.tar.gz", SHA256: h("c")},
		{Filename: "six-1.15.0-py3-none-any.whl", SHA256: h("d")},
	}}}
	pins, err := lockedFiles(t.Context(), lf, src)
	if err != nil {
		t.Fatal(err)
	}
	want := []upstream.File{{Filename: "six-1.16.0-py2.py3-none-any.whl", SHA256: h("b")}, {Filename: "six-1.16.0-py3-none-any.whl", SHA256: h("a")}}
	if len(pins) != 1 || pins[0].Key != "six" || pins[0].Name != "Six" || len(pins[0].Files) != 2 || pins[0].Files[0] != want[0] || pins[0].Files[1] != want[1] {
		t.Errorf("pins %+v", pins)
	}
}
