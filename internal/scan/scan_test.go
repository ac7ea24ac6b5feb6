package scan_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/scan/vulndb"
)

// built is the test database's build time: an hour ago, well inside the
// default five days.
var built = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

func fixtureDB(t *testing.T, when time.Time) string {
	t.Helper()
	dir := t.TempDir()
	if err := vulndb.Write(dir, vulndb.Fixture(), when); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fixtureSyftJSON catalogues the fixture image's first platform.
func fixtureSyftJSON(t *testing.T) (string, []byte) {
	t.Helper()
	r := buildtest.Build(t, buildtest.Options{})
	pl := r.Record.Platforms[0]
	s, err := sbom.Generate(t.Context(), r.Image(t, pl.Platform), pl.Platform, pl.Digest,
		sbom.Options{Epoch: time.Unix(r.Record.SourceDateEpoch, 0), Name: r.Repo.String()})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := s.SyftJSON()
	if err != nil {
		t.Fatal(err)
	}
	return pl.Platform, doc
}

func line(f scan.Finding) string {
	fixed := strings.Join(f.FixedIn, ",")
	return fmt.Sprintf("%s %s %s %s %s %s", f.Severity, f.Package, f.Version, f.ID, f.FixState, fixed)
}

func TestScanFixtureImage(t *testing.T) {
	if testing.Short() {
		t.Skip("scan: builds and catalogues the fixture image; skipped in -short mode")
	}
	_, doc := fixtureSyftJSON(t)
	db, err := scan.OpenDB(scan.DBOptions{Path: fixtureDB(t, built)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.Status.Built.Equal(built) || !strings.HasPrefix(db.Status.Schema, "v6.") {
		t.Errorf("database status %+v, want built %s and a v6 schema", db.Status, built)
	}
	r, err := scan.Scan(t.Context(), db, doc, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, line(f))
	}
	t.Logf("findings:\n%s", strings.Join(got, "\n"))
	want := []string{
		"High pygments 2.14.0 GHSA-mrwq-x4v8-fh7p fixed 2.15.0",
		"High setuptools 66.1.1 GHSA-cx63-2mw6-8hw5 fixed 70.0.0",
		"High sqlparse 0.4.2 GHSA-2m57-hf25-phgg fixed 0.5.0",
		"Medium libncursesw6 " + versionOf(t, r, "libncursesw6") + " CVE-2023-50495 not-fixed ",
		"Medium libtinfo6 " + versionOf(t, r, "libtinfo6") + " CVE-2023-50495 not-fixed ",
		"Medium sqlparse 0.4.2 GHSA-rrm6-wvj7-cwh2 fixed 0.4.4",
		"Low pip 23.0.1 GHSA-mq26-g339-26xf fixed 23.3",
		"Negligible libc-bin " + versionOf(t, r, "libc-bin") + " CVE-2010-4756 not-fixed ",
		"Negligible libc6 " + versionOf(t, r, "libc6") + " CVE-2010-4756 not-fixed ",
		"Negligible tar " + versionOf(t, r, "tar") + " CVE-2005-2541 not-fixed ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	t.Run("gate", func(t *testing.T) {
		for _, tc := range []struct {
			gate scan.Gate
			want int
		}{
			{scan.Gate{FailOn: "critical"}, 0},
			{scan.Gate{FailOn: "high"}, 3},
			{scan.Gate{FailOn: "high", IncludeUnfixed: true}, 3},
			{scan.Gate{FailOn: "medium"}, 4},
			{scan.Gate{FailOn: "medium", IncludeUnfixed: true}, 6},
			{scan.Gate{FailOn: "low"}, 5},
			{scan.Gate{FailOn: "low", IncludeUnfixed: true}, 7},
		} {
			b := r.Blocking(tc.gate)
			err := r.Check(tc.gate)
			if len(b) != tc.want || (err != nil) != (tc.want > 0) {
				t.Errorf("%+v: %d blocking (%v), want %d", tc.gate, len(b), err, tc.want)
			}
			if err != nil && (errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), b[0].ID)) {
				t.Errorf("%+v: %v, want exit 1 naming %s", tc.gate, err, b[0].ID)
			}
		}
	})

	t.Run("VEX not_affected is shown and does not fail the gate", func(t *testing.T) {
		vexDoc := filepath.Join(t.TempDir(), "pgcli.openvex.json")
		writeJSON(t, vexDoc, map[string]any{
			"@context":  "https://openvex.dev/ns/v0.2.0",
			"@id":       "https://example.com/vex/pgcli-1",
			"author":    "pgcli maintainers",
			"timestamp": "2026-11-01T00:00:00Z",
			"version":   1,
			"statements": []any{map[string]any{
				"vulnerability": map[string]any{"name": "GHSA-mrwq-x4v8-fh7p"},
				"products":      []any{map[string]any{"@id": "pkg:pypi/pygments@2.14.0"}},
				"status":        "not_affected",
				"justification": "vulnerable_code_not_in_execute_path",
			}},
		})
		rv, err := scan.Scan(t.Context(), db, doc, scan.Options{VEX: []string{vexDoc}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rv.Suppressed) != 1 || rv.Suppressed[0].ID != "GHSA-mrwq-x4v8-fh7p" || rv.Suppressed[0].VEX != "not_affected" ||
			rv.Suppressed[0].Justification != "vulnerable_code_not_in_execute_path" {
			t.Fatalf("suppressed %+v, want the pygments finding, not_affected", rv.Suppressed)
		}
		if len(rv.Findings) != len(r.Findings)-1 || len(rv.Blocking(scan.Gate{FailOn: "high"})) != 2 {
			t.Errorf("%d findings, %d blocking; want %d and 2", len(rv.Findings), len(rv.Blocking(scan.Gate{FailOn: "high"})), len(r.Findings)-1)
		}
		var table bytes.Buffer
		if err := rv.WriteTable(&table, scan.Gate{FailOn: "high"}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(table.String(), "not_affected vulnerable_code_not_in_execute_path") || !strings.Contains(table.String(), "2 blocking") {
			t.Errorf("table does not show the suppression and the gate:\n%s", table.String())
		}
		t.Logf("table:\n%s", table.String())
	})

	t.Run("SARIF", func(t *testing.T) {
		var b bytes.Buffer
		if err := r.WriteSARIF(&b); err != nil {
			t.Fatal(err)
		}
		var s struct {
			Version string `json:"version"`
			Runs    []struct {
				Results []struct {
					RuleID string `json:"ruleId"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(b.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s.Version != "2.1.0" || len(s.Runs) != 1 || len(s.Runs[0].Results) != len(r.Findings) {
			t.Fatalf("SARIF version %q, %d runs, want 2.1.0 with one result per finding (%d)", s.Version, len(s.Runs), len(r.Findings))
		}
	})

	t.Run("attestation predicate", func(t *testing.T) {
		b, err := json.Marshal(r.Predicate())
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Scanner struct {
				URI, Version string
				DB           struct{ URI, Version string }
				Result       struct {
					DB       scan.DBStatus  `json:"db"`
					Findings []scan.Finding `json:"findings"`
				}
			}
			Metadata struct{ ScanStartedOn, ScanFinishedOn time.Time }
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.Scanner.URI, "grype") || p.Scanner.DB.Version != db.Status.Schema || !p.Scanner.Result.DB.Built.Equal(built) ||
			len(p.Scanner.Result.Findings) != len(r.Findings) || p.Metadata.ScanFinishedOn.Before(p.Metadata.ScanStartedOn) {
			t.Fatalf("predicate does not record scanner, database and findings: %s", b)
		}
	})
}

func versionOf(t *testing.T, r *scan.Report, pkg string) string {
	t.Helper()
	for _, f := range r.Findings {
		if f.Package == pkg {
			return f.Version
		}
	}
	return "(" + pkg + " not found)"
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDB(t *testing.T) {
	t.Run("stale database is refused", func(t *testing.T) {
		_, err := scan.OpenDB(scan.DBOptions{Path: fixtureDB(t, time.Now().Add(-10*24*time.Hour))})
		if err == nil || errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "--max-db-age") {
			t.Fatalf("err = %v, want exit 2 naming --max-db-age", err)
		}
	})
	t.Run("a wider --max-db-age accepts it", func(t *testing.T) {
		db, err := scan.OpenDB(scan.DBOptions{Path: fixtureDB(t, time.Now().Add(-10*24*time.Hour)), MaxAge: 30 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	})
	t.Run("archive", func(t *testing.T) {
		dir := fixtureDB(t, built)
		archive := filepath.Join(t.TempDir(), "vulnerability-db_v6.tar.gz")
		tarGz(t, archive, filepath.Join(dir, "vulnerability.db"))
		db, err := scan.OpenDB(scan.DBOptions{Path: archive})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if !db.Status.Built.Equal(built) {
			t.Errorf("built %s, want %s", db.Status.Built, built)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := scan.OpenDB(scan.DBOptions{Path: filepath.Join(t.TempDir(), "nope.tar.gz")})
		if err == nil || errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("err = %v, want exit 2", err)
		}
	})
	t.Run("not a database", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "vulnerability.db")
		if err := os.WriteFile(p, []byte("not sqlite"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := scan.OpenDB(scan.DBOptions{Path: p})
		if err == nil || errs.ExitCode(err) != errs.CodeInput {
			t.Fatalf("err = %v, want exit 2", err)
		}
	})
}

func tarGz(t *testing.T, out, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "vulnerability.db", Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExceedingMatchesGate(t *testing.T) {
	r := &scan.Report{Findings: []scan.Finding{
		{ID: "C1", Severity: "Critical", FixState: "fixed", FixedIn: []string{"2"}},
		{ID: "H1", Severity: "High", FixState: "fixed", FixedIn: []string{"2"}},
		{ID: "H2", Severity: "High", FixState: "not-fixed"},
		{ID: "M1", Severity: "Medium", FixState: "fixed", FixedIn: []string{"2"}},
		{ID: "L1", Severity: "Low", FixState: "fixed", FixedIn: []string{"2"}},
		{ID: "N1", Severity: "Negligible", FixState: "fixed", FixedIn: []string{"2"}},
		{ID: "U1", Severity: "Unknown", FixState: "fixed", FixedIn: []string{"2"}},
	}}
	ids := func(fs []scan.Finding) string {
		var s []string
		for _, f := range fs {
			s = append(s, f.ID)
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		max            string
		includeUnfixed bool
		want           string
	}{
		{"critical", true, ""},
		{"high", false, "C1"},
		{"medium", false, "C1,H1"},
		{"medium", true, "C1,H1,H2"},
		{"low", false, "C1,H1,M1"},
		{"negligible", false, "C1,H1,M1,L1"},
		{"unknown", false, "C1,H1,M1,L1,N1"},
		{"none", false, "C1,H1,M1,L1,N1,U1"},
	}
	for _, c := range cases {
		if got := ids(r.Exceeding(c.max, c.includeUnfixed)); got != c.want {
			t.Errorf("Exceeding(%s, %v) = %q, want %q", c.max, c.includeUnfixed, got, c.want)
		}
	}
	for _, failOn := range []string{"critical", "high", "medium", "low", "negligible"} {
		g := scan.Gate{FailOn: failOn}
		if a, b := ids(r.Blocking(g)), ids(r.Exceeding(scan.MaxSeverityFor(failOn), false)); a != b {
			t.Errorf("fail-on %s blocks %q but max-severity %s exceeds %q", failOn, a, scan.MaxSeverityFor(failOn), b)
		}
	}
	if got := r.Counts(); got["High"] != 2 || got["Critical"] != 1 || got["Unknown"] != 1 || len(got) != 6 {
		t.Errorf("Counts() = %v", got)
	}
	// The severities admission policies list agree with Exceeding (the
	// fixture has a finding of every severity).
	for _, c := range cases {
		var got []string
		for _, f := range r.Exceeding(c.max, true) {
			if !slices.Contains(got, f.Severity) {
				got = append(got, f.Severity)
			}
		}
		slices.Sort(got)
		want := scan.SeveritiesAbove(c.max)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("SeveritiesAbove(%s) = %v, Exceeding has %v", c.max, want, got)
		}
	}
}

// TestSeverityLevels: --fail-on and --max-severity take exactly their
// documented levels, in any case; anything else, "" included, is an input
// error that names the flag, the value and the levels.
func TestSeverityLevels(t *testing.T) {
	for _, s := range []string{"negligible", "low", "medium", "high", "critical", "HIGH", "Negligible"} {
		if got, err := scan.ParseSeverity(s); err != nil || got != strings.ToLower(s) {
			t.Errorf("ParseSeverity(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "none", "unknown", "0", "-1", "severe"} {
		_, err := scan.ParseSeverity(s)
		if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), fmt.Sprintf("--fail-on %q", s)) || !strings.Contains(err.Error(), "negligible, low, medium, high or critical") {
			t.Errorf("ParseSeverity(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"none", "unknown", "negligible", "low", "medium", "high", "critical", "None"} {
		if got, err := scan.ParseMaxSeverity(s); err != nil || got != strings.ToLower(s) {
			t.Errorf("ParseMaxSeverity(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "0", "-1", "severe"} {
		_, err := scan.ParseMaxSeverity(s)
		if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), fmt.Sprintf("--max-severity %q", s)) || !strings.Contains(err.Error(), "none, unknown, negligible, low, medium, high or critical") {
			t.Errorf("ParseMaxSeverity(%q) = %v", s, err)
		}
	}
}

// TestMaxAges: a maximum age given as 0 or less is refused, naming the
// flag and the value, rather than read as the default or "no limit".
func TestMaxAges(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Hour} {
		for flag, err := range map[string]error{"--max-db-age": scan.CheckMaxDBAge(d), "--max-scan-age": scan.CheckMaxScanAge(d)} {
			if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), flag+" "+d.String()+": give a positive duration") {
				t.Errorf("%s %s: %v", flag, d, err)
			}
		}
	}
	if scan.CheckMaxDBAge(time.Hour) != nil || scan.CheckMaxScanAge(time.Hour) != nil {
		t.Error("a positive age was refused")
	}
	// The library refuses a negative age before it opens anything.
	if _, err := scan.OpenDB(scan.DBOptions{Path: "/nonexistent", MaxAge: -time.Hour}); errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "--max-db-age -1h0m0s") {
		t.Errorf("OpenDB with a negative MaxAge: %v", err)
	}
}
