package verify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/scan"
)

// vulnStatement is a signed scan as verifyTarget keeps it: the decoded
// in-toto statement with cosign's vuln predicate and harden's report.
func vulnStatement(t *testing.T, finished time.Time, findings ...scan.Finding) Verified {
	t.Helper()
	r := &scan.Report{Scanner: scan.Scanner{Name: "grype", Version: "0.121.3"}, DB: scan.DBStatus{Schema: "v6.1.0", Built: finished.Add(-time.Hour)},
		Started: finished, Finished: finished, Findings: findings}
	b, err := json.Marshal(map[string]any{"predicateType": scan.PredicateType, "predicate": r.Predicate()})
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return Verified{PredicateType: scan.PredicateType, Statement: st}
}

func TestCheckVulns(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	high := scan.Finding{ID: "GHSA-2m57-hf25-phgg", Severity: "High", Package: "sqlparse", Version: "0.4.2", FixState: "fixed", FixedIn: []string{"0.4.4"}}
	unfixedCrit := scan.Finding{ID: "CVE-2023-50495", Severity: "Critical", Package: "ncurses", Version: "6.4", FixState: "not-fixed"}
	repo, err := name.NewRepository("registry.example/pgcli")
	if err != nil {
		t.Fatal(err)
	}
	targets := func(atts ...Verified) targets {
		return targets{root: &target{ref: repo.Digest("sha256:" + strings.Repeat("a", 64))},
			plats: []*target{{ref: repo.Digest("sha256:" + strings.Repeat("b", 64)), platform: "linux/amd64", atts: atts}}}
	}
	fresh := vulnStatement(t, now.Add(-2*time.Hour), high, unfixedCrit)
	older := vulnStatement(t, now.Add(-200*time.Hour))
	cases := []struct {
		name   string
		policy VulnPolicy
		atts   []Verified
		passed bool   // the vulnerabilities check passed (or is absent when want == "")
		want   string // part of the reason; "" = no check at all
	}{
		{"not required, none attested", VulnPolicy{}, nil, true, ""},
		{"not required, attested", VulnPolicy{}, []Verified{fresh}, true, ""},
		{"required, none attested", VulnPolicy{MaxSeverity: "critical"}, nil, false, "no signed vulnerability attestation"},
		{"within the limit", VulnPolicy{MaxSeverity: "high", MaxAge: 24 * time.Hour}, []Verified{fresh}, true, "1 critical, 1 high"},
		{"fixable high over medium", VulnPolicy{MaxSeverity: "medium"}, []Verified{fresh}, false, "1 finding(s) worse than medium, with a fix available: GHSA-2m57-hf25-phgg (sqlparse 0.4.2, High)"},
		{"unfixed critical counted", VulnPolicy{MaxSeverity: "high", IncludeUnfixed: true}, []Verified{fresh}, false, "CVE-2023-50495 (ncurses 6.4, Critical)"},
		{"too old", VulnPolicy{MaxAge: 168 * time.Hour}, []Verified{older}, false, "older than --max-scan-age 168h0m0s"},
		{"newest scan wins", VulnPolicy{MaxAge: 168 * time.Hour}, []Verified{older, fresh}, true, "scanned 2026-11-30T10:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{}
			in := checkVulns(rep, Options{Vuln: tc.policy}, targets(tc.atts...), now)
			if want := min(len(tc.atts), 1); len(in) != want {
				t.Errorf("policy input has %d scans, want %d", len(in), want)
			}
			if tc.want == "" {
				if len(rep.Checks) != 0 {
					t.Fatalf("checks %+v, want none", rep.Checks)
				}
				return
			}
			if len(rep.Checks) != 1 {
				t.Fatalf("checks %+v, want one", rep.Checks)
			}
			c := rep.Checks[0]
			if c.Name != "vulnerabilities" || c.Passed != tc.passed || !strings.Contains(c.Reason, tc.want) {
				t.Errorf("check %+v, want passed=%v with %q", c, tc.passed, tc.want)
			}
		})
	}
}
