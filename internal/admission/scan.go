package admission

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/flagcheck"
	"github.com/harden-dev/harden/internal/scan"
)

// PredicateVuln is cosign's vulnerability scan predicate; harden's scan
// stage attests its report with it.
const PredicateVuln = scan.PredicateType

// ScanFlags are policy generate's scan requirement flags; each is nil
// unless it was given, so that harden.yaml's scan: applies otherwise.
type ScanFlags struct {
	MaxAge         *time.Duration // --max-scan-age
	MaxSeverity    *string        // --max-severity
	IncludeUnfixed *bool          // --include-unfixed
}

// ApplyScanFlags lays the flags given over the scan requirement that
// ParamsFor took from harden.yaml. A flag given as zero, negative or empty
// is refused rather than read as "no requirement".
func (p *Params) ApplyScanFlags(engine string, f ScanFlags) error {
	if f == (ScanFlags{}) {
		return nil
	}
	if engine == "gatekeeper" || engine == "ratify" {
		return errs.Input(fmt.Errorf("--engine %s cannot read attestations, so it cannot require a vulnerability scan; use kyverno or policy-controller for --max-scan-age and --max-severity", engine))
	}
	s := ScanRequirement{}
	if p.Scan != nil {
		s = *p.Scan
	}
	if f.MaxAge != nil {
		if err := flagcheck.PositiveDuration("max-scan-age", *f.MaxAge, "168h", "to use scan.maxAttestationAge from harden.yaml (no age limit when it is unset)"); err != nil {
			return err
		}
		s.MaxAge = *f.MaxAge
	}
	if f.MaxSeverity != nil {
		sev, err := scan.ParseMaxSeverity(*f.MaxSeverity)
		if err != nil {
			return err
		}
		s.MaxSeverity = sev
	}
	if f.IncludeUnfixed != nil {
		s.IncludeUnfixed = *f.IncludeUnfixed
	}
	p.Scan = &s
	return nil
}

// above returns the severities worse than the maximum.
func (s ScanRequirement) above() []string { return scan.SeveritiesAbove(s.MaxSeverity) }

func (s *ScanRequirement) check() error {
	if s == nil {
		return nil
	}
	if s.MaxSeverity != "" {
		if _, err := scan.ParseMaxSeverity(s.MaxSeverity); err != nil {
			return fmt.Errorf("admission policy: %w", err)
		}
	}
	if s.MaxAge < 0 {
		return fmt.Errorf("admission policy: %w", flagcheck.PositiveDuration("max-scan-age", s.MaxAge, "168h", "to use scan.maxAttestationAge from harden.yaml (no age limit when it is unset)"))
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
