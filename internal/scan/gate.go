package scan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/flagcheck"
)

// severities from least to most severe, as grype names them.
var severities = []string{"Unknown", "Negligible", "Low", "Medium", "High", "Critical"}

func severityRank(s string) int {
	for i, x := range severities {
		if strings.EqualFold(x, s) {
			return i
		}
	}
	return 0
}

func canonicalSeverity(s string) string { return severities[severityRank(s)] }

// Gate decides which findings fail a scan.
type Gate struct {
	// FailOn is the lowest severity that fails: critical, high, medium,
	// low or negligible (see ParseSeverity).
	FailOn string
	// IncludeUnfixed also counts findings that have no fixed version.
	IncludeUnfixed bool
}

// failOnLevels are the --fail-on values, least severe first: grype's
// own --fail-on levels (Unknown, which ranks lowest, is not one).
// harden.yaml's scan.failOn accepts the same (config.validate).
var failOnLevels = []string{"negligible", "low", "medium", "high", "critical"}

// maxSeverityLevels are the --max-severity values: "none", then every
// level of severities, least severe first. "unknown" allows only unrated
// findings; it is what a negligible gate leaves (see MaxSeverityFor).
var maxSeverityLevels = []string{"none", "unknown", "negligible", "low", "medium", "high", "critical"}

// FailOnLevels are the values --fail-on and scan.failOn accept, least
// severe first.
func FailOnLevels() []string { return slices.Clone(failOnLevels) }

// MaxSeverityLevels are the values --max-severity accepts, "none" first.
func MaxSeverityLevels() []string { return slices.Clone(maxSeverityLevels) }

// ParseSeverity checks a --fail-on value (any case) and returns it in
// lower case.
func ParseSeverity(s string) (string, error) {
	for _, ok := range failOnLevels {
		if strings.EqualFold(s, ok) {
			return ok, nil
		}
	}
	return "", errs.Input(fmt.Errorf("--fail-on %q: use %s (the lowest severity that fails)", s, orList(failOnLevels)))
}

// orList renders ["a", "b", "c"] as "a, b or c".
func orList(l []string) string {
	return strings.Join(l[:len(l)-1], ", ") + " or " + l[len(l)-1]
}

// Blocking returns the findings that fail the gate: at or above FailOn,
// with a fix available unless IncludeUnfixed, and not suppressed by VEX
// (those are in r.Suppressed, not r.Findings).
func (r *Report) Blocking(g Gate) []Finding {
	min := severityRank(g.FailOn)
	var out []Finding
	for _, f := range r.Findings {
		if severityRank(f.Severity) < min {
			continue
		}
		if !g.IncludeUnfixed && !f.Fixable() {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Check fails (exit 1) when findings block the gate, naming them.
func (r *Report) Check(g Gate) error {
	b := r.Blocking(g)
	if len(b) == 0 {
		return nil
	}
	scope := "with a fix available"
	if g.IncludeUnfixed {
		scope = "fixed or not"
	}
	return errs.Check(fmt.Errorf("%d finding(s) at or above %s, %s: %s; upgrade the packages, or record why they do not apply in an OpenVEX document (scan.vex in harden.yaml)",
		len(b), g.FailOn, scope, FindingList(b)))
}

// Counts returns the number of findings per severity (grype's names,
// e.g. "High"); suppressed findings are not counted.
func (r *Report) Counts() map[string]int {
	counts := map[string]int{}
	for _, f := range r.Findings {
		counts[canonicalSeverity(f.Severity)]++
	}
	return counts
}

// ParseMaxSeverity checks a --max-severity value (any case): the worst
// severity an image may still carry. "none" allows no finding at all.
// An empty value is refused: given as a flag, it would quietly drop the
// requirement.
func ParseMaxSeverity(s string) (string, error) {
	for _, ok := range maxSeverityLevels {
		if strings.EqualFold(s, ok) {
			return ok, nil
		}
	}
	return "", errs.Input(fmt.Errorf("--max-severity %q: use %s (the worst severity allowed)", s, orList(maxSeverityLevels)))
}

// CheckMaxScanAge refuses a --max-scan-age (how old a signed scan may
// be) that was given as zero or negative: either would quietly drop the
// age limit.
func CheckMaxScanAge(d time.Duration) error {
	return flagcheck.PositiveDuration("max-scan-age", d, "168h", "to not limit the scan's age (a scan is then required only with --max-severity)")
}

// Exceeding returns the findings more severe than max (see
// ParseMaxSeverity), with a fix available unless includeUnfixed. It is the
// gate seen from the other side: Exceeding("high", …) blocks what
// Blocking(Gate{FailOn: "critical"}) blocks.
func (r *Report) Exceeding(max string, includeUnfixed bool) []Finding {
	limit := -1
	if !strings.EqualFold(max, "none") {
		limit = severityRank(max)
	}
	var out []Finding
	for _, f := range r.Findings {
		if severityRank(f.Severity) <= limit || (!includeUnfixed && !f.Fixable()) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// SeveritiesAbove lists the severities (grype's names, as findings carry
// them) worse than max, a ParseMaxSeverity value: all of them for "none",
// none for "critical" or "".
func SeveritiesAbove(max string) []string {
	switch strings.ToLower(max) {
	case "", "critical":
		return nil
	case "none":
		return slices.Clone(severities)
	}
	return slices.Clone(severities[severityRank(max)+1:])
}

// MaxSeverityFor is the --max-severity that matches a gate's --fail-on:
// one step below it, so that both block the same findings.
func MaxSeverityFor(failOn string) string {
	switch strings.ToLower(failOn) {
	case "negligible":
		return "unknown"
	case "low":
		return "negligible"
	case "medium":
		return "low"
	case "high":
		return "medium"
	case "critical":
		return "high"
	}
	return "critical"
}

// FindingList names up to five findings for a message:
// "GHSA-… (sqlparse 0.4.2, High), …, and 3 more".
func FindingList(fs []Finding) string {
	var ids []string
	for i, f := range fs {
		if i == 5 {
			ids = append(ids, fmt.Sprintf("and %d more", len(fs)-5))
			break
		}
		ids = append(ids, fmt.Sprintf("%s (%s %s, %s)", f.ID, f.Package, f.Version, f.Severity))
	}
	return strings.Join(ids, ", ")
}

// CountSummary renders Counts worst first ("3 high, 1 low"), or "" for
// none.
func CountSummary(counts map[string]int) string {
	var parts []string
	for i := len(severities) - 1; i >= 0; i-- {
		if n := counts[severities[i]]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(severities[i])))
		}
	}
	return strings.Join(parts, ", ")
}
