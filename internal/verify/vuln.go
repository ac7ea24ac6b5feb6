package verify

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/harden-dev/harden/internal/scan"
)

// VulnPolicy is what verify asks of the signed vulnerability attestation
// (cosign's vuln predicate, written by harden scan and the release scan
// stage). The zero value requires nothing.
type VulnPolicy struct {
	// MaxSeverity is the worst severity an image may carry (none, low,
	// medium, high, critical); "" does not look at findings.
	MaxSeverity string
	// IncludeUnfixed also counts findings without a fixed version.
	IncludeUnfixed bool
	// MaxAge is how old the scan may be; 0 = any age.
	MaxAge time.Duration
}

// Required reports whether each platform must carry a vuln attestation.
func (p VulnPolicy) Required() bool { return p.MaxSeverity != "" || p.MaxAge > 0 }

// InputVuln is one platform's scan as policies see it (input.vulnerabilities).
type InputVuln struct {
	Platform   string         `json:"platform"`
	Digest     string         `json:"digest"`
	Scanner    string         `json:"scanner"`
	Signer     string         `json:"signer"` // who signed the scan`
	DB         scan.DBStatus  `json:"db"`
	ScannedAt  string         `json:"scannedAt"`
	Counts     map[string]int `json:"counts"`
	Findings   []scan.Finding `json:"findings"`
	Suppressed []scan.Finding `json:"suppressed"`
}

// vulnPredicate is the part of cosign's vuln predicate harden reads; the
// result is harden's own scan report.
type vulnPredicate struct {
	Scanner struct {
		URI     string          `json:"uri"`
		Version string          `json:"version"`
		Result  json.RawMessage `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanFinishedOn time.Time `json:"scanFinishedOn"`
	} `json:"metadata"`
}

// newestScan decodes the most recent vuln attestation of t, if any. A
// scan is superseded by a later one, so unlike the other checks the
// newest signed scan decides, not any: by its signed scanFinishedOn,
// then by signing time and entry (t.atts is in that order).
func newestScan(t *target) (*InputVuln, error) {
	var best *InputVuln
	var bestAt time.Time
	for _, a := range t.atts {
		if a.PredicateType != scan.PredicateType {
			continue
		}
		raw, err := json.Marshal(a.Statement["predicate"])
		if err != nil {
			return nil, err
		}
		var p vulnPredicate
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("vuln attestation of %s: %w", t.ref.DigestStr(), err)
		}
		var r scan.Report
		if len(p.Scanner.Result) == 0 || json.Unmarshal(p.Scanner.Result, &r) != nil || r.Scanner.Name == "" {
			return nil, fmt.Errorf("vuln attestation of %s: its result is not a harden scan report; scan and attest the image with harden (harden scan IMAGE --out DIST, then harden attest --out DIST --type vuln)", t.ref.DigestStr())
		}
		if best != nil && !p.Metadata.ScanFinishedOn.After(bestAt) {
			continue
		}
		bestAt = p.Metadata.ScanFinishedOn
		best = &InputVuln{Platform: t.platform, Digest: t.ref.DigestStr(), Scanner: r.Scanner.Name + " " + r.Scanner.Version, Signer: who(a), DB: r.DB,
			ScannedAt: bestAt.UTC().Format(time.RFC3339), Counts: r.Counts(), Findings: nonNilFindings(r.Findings), Suppressed: nonNilFindings(r.Suppressed)}
	}
	return best, nil
}

func nonNilFindings(f []scan.Finding) []scan.Finding {
	if f == nil {
		return []scan.Finding{}
	}
	return f
}

// checkVulns reads each platform's newest signed scan into the policy
// input and, when the policy asks, checks its age and findings.
func checkVulns(rep *Report, o Options, ts targets, now time.Time) []InputVuln {
	out := []InputVuln{}
	p := o.Vuln
	for _, t := range ts.plats {
		v, err := newestScan(t)
		if err != nil {
			rep.add("vulnerabilities", t.ref.DigestStr(), false, "%s: %v", t.platform, err)
			continue
		}
		if v == nil {
			if p.Required() {
				reason := ""
				if rej := rejections(t, func(k string) bool { return k == scan.PredicateType }); rej != "" {
					reason = " (" + rej + ")"
				}
				rep.add("vulnerabilities", t.ref.DigestStr(), false, "%s: no signed vulnerability attestation (%s) for this digest%s; release it with harden release (its scan stage), or scan and attest it: harden scan IMAGE --out DIST, then harden attest --out DIST --type vuln", t.platform, scan.PredicateType, reason)
			}
			continue
		}
		out = append(out, *v)
		if !p.Required() {
			continue
		}
		at, _ := time.Parse(time.RFC3339, v.ScannedAt)
		if age := now.Sub(at); p.MaxAge > 0 && age > p.MaxAge {
			rep.add("vulnerabilities", t.ref.DigestStr(), false, "%s: the newest signed scan is from %s, %s old, older than --max-scan-age %s; scan it again with a fresh database and attest the report (harden scan IMAGE --out DIST, then harden attest --out DIST --type vuln)", t.platform, v.ScannedAt, age.Round(time.Second), p.MaxAge)
			continue
		}
		scope := "with a fix available"
		if p.IncludeUnfixed {
			scope = "fixed or not"
		}
		if p.MaxSeverity != "" {
			r := scan.Report{Findings: v.Findings}
			if bad := r.Exceeding(p.MaxSeverity, p.IncludeUnfixed); len(bad) > 0 {
				rep.add("vulnerabilities", t.ref.DigestStr(), false, "%s: %d finding(s) worse than %s, %s: %s; upgrade the packages and re-release, or record why they do not apply in OpenVEX (scan.vex in harden.yaml)", t.platform, len(bad), p.MaxSeverity, scope, scan.FindingList(bad))
				continue
			}
		}
		c := rep.add("vulnerabilities", t.ref.DigestStr(), true, "%s: scanned %s with %s (database built %s): %s; signed by %s", t.platform, v.ScannedAt, v.Scanner, v.DB.Built.UTC().Format(time.RFC3339), countList(v.Counts, len(v.Suppressed)), v.Signer)
		c.Signer = v.Signer
	}
	return out
}

func countList(counts map[string]int, suppressed int) string {
	s := scan.CountSummary(counts)
	if s == "" {
		s = "no findings"
	}
	if suppressed > 0 {
		s += fmt.Sprintf(", %d suppressed by VEX", suppressed)
	}
	return s
}
