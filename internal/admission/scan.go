package admission

import (
	"errors"
	"fmt"
	"strings"

	"github.com/harden-dev/harden/internal/errs"
)

// PredicateVuln is cosign's vulnerability scan predicate; harden's scan
// stage attests its report with it.
const PredicateVuln = "https://cosign.sigstore.dev/attestation/vuln/v1"

// severityOrder is grype's severity scale, least severe first, as the
// findings in harden's scan report name them.
var severityOrder = []string{"Unknown", "Negligible", "Low", "Medium", "High", "Critical"}

// above returns the severities worse than max.
func (s ScanRequirement) above() []string {
	switch strings.ToLower(s.MaxSeverity) {
	case "", "critical":
		return nil
	case "none":
		return severityOrder
	}
	for i, sev := range severityOrder {
		if strings.EqualFold(sev, s.MaxSeverity) {
			return severityOrder[i+1:]
		}
	}
	return nil
}

func (s *ScanRequirement) check() error {
	if s == nil {
		return nil
	}
	switch strings.ToLower(s.MaxSeverity) {
	case "", "none", "low", "medium", "high", "critical":
	default:
		return errs.Input(fmt.Errorf("admission policy: --max-severity %q: use none, low, medium, high or critical (the worst severity allowed)", s.MaxSeverity))
	}
	if s.MaxAge < 0 {
		return errs.Input(fmt.Errorf("admission policy: --max-scan-age %s: give a positive duration such as 168h", s.MaxAge))
	}
	if s.MaxAge == 0 && len(s.above()) == 0 {
		return errs.Input(errors.New("admission policy: a scan requirement needs --max-scan-age or a --max-severity below critical"))
	}
	return nil
}

// kyvernoScan is the vuln attestation of a Kyverno verifyImages rule.
// time_since gives the scan's age as a Go duration, which Kyverno's
// numeric operators compare with durations.
func (s ScanRequirement) kyvernoScan(attestors []any) map[string]any {
	var conds []any
	if s.MaxAge > 0 {
		conds = append(conds, cond("{{ time_since('', '{{ metadata.scanFinishedOn }}', '') }}", "LessThanOrEquals", s.MaxAge.String()))
	}
	for _, sev := range s.above() {
		filter := "severity == '" + sev + "'"
		if !s.IncludeUnfixed {
			filter += " && fixState == 'fixed'"
		}
		conds = append(conds, cond("{{ length(scanner.result.findings[?"+filter+"]) }}", "Equals", 0))
	}
	return map[string]any{"type": PredicateVuln, "attestors": attestors, "conditions": []any{map[string]any{"all": conds}}}
}

// policyControllerRego checks the scan's age and findings; like the
// provenance policy, its denial names each problem.
func (s ScanRequirement) policyControllerRego() string {
	var b strings.Builder
	b.WriteString(`package sigstore

import rego.v1

`)
	if s.MaxAge > 0 {
		fmt.Fprintf(&b, `problems contains msg if {
	finished := input.predicate.metadata.scanFinishedOn
	time.now_ns() - time.parse_rfc3339_ns(finished) > %d
	msg := sprintf("the newest vulnerability scan finished at %%v, more than %s ago", [finished])
}

`, s.MaxAge.Nanoseconds(), s.MaxAge)
	}
	if above := s.above(); len(above) > 0 {
		var set []string
		for _, sev := range above {
			set = append(set, fmt.Sprintf("%q", sev))
		}
		fixed := "\n\tf.fixState == \"fixed\""
		if s.IncludeUnfixed {
			fixed = ""
		}
		fmt.Fprintf(&b, `problems contains msg if {
	some f in input.predicate.scanner.result.findings
	f.severity in {%s}%s
	msg := sprintf("%%v in %%v %%v is %%v", [f.id, f["package"], f.version, f.severity])
}

`, strings.Join(set, ", "), fixed)
	}
	b.WriteString(`isCompliant := [{"result": count(problems) == 0, "error": concat("; ", sort(problems))}]
`)
	return b.String()
}
