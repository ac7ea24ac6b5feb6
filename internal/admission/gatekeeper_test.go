package admission

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/provenance"
)

// TestCommittedPolicies: the policies in policy/ are what harden generates
// from image/harden.yaml, so the two cannot drift apart.
func TestCommittedPolicies(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "..", "image", "harden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ engine, format, path string }{
		{"gatekeeper", FormatLegacy, "gatekeeper/pgcli.yaml"},
		{"kyverno", FormatLegacy, "kyverno/pgcli.yaml"},
		{"kyverno", FormatBundle, "kyverno/pgcli-bundle.yaml"},
		{"policy-controller", FormatLegacy, "policy-controller/pgcli.yaml"},
		{"policy-controller", FormatBundle, "policy-controller/pgcli-bundle.yaml"},
		{"gatekeeper-ratify", FormatLegacy, "gatekeeper/pgcli-ratify.yaml"},
		{"ratify", FormatLegacy, "gatekeeper/ratify-values.yaml"},
	} {
		p := ParamsFor(c)
		p.Format = tc.format
		p.Issuer = "https://token.actions.githubusercontent.com"
		p.SubjectRegexp = `^https://github\.com/example/pgcli-container/\.github/workflows/release\.yml@refs/.+$`
		engine, cmd := tc.engine, "--engine "+tc.engine+" --format "+tc.format
		if engine == "gatekeeper-ratify" {
			engine, p.Ratify, cmd = "gatekeeper", true, "--engine gatekeeper --ratify"
		}
		got, err := Generate(engine, p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "..", "policy", filepath.FromSlash(tc.path))
		if os.Getenv("HARDEN_UPDATE_GOLDEN") == "1" {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale; run harden policy generate %s --config image/harden.yaml --out policy/%s (or HARDEN_UPDATE_GOLDEN=1)", path, cmd, tc.path)
		}
	}
}

func TestGenerateRefuses(t *testing.T) {
	signed := Params{Name: "pgcli", Issuer: "https://token.actions.githubusercontent.com", Subject: "x", UID: 10001, Format: FormatLegacy}
	with := func(edit func(*Params)) Params { p := signed; edit(&p); return p }
	for name, tc := range map[string]struct {
		engine string
		p      Params
		want   string
	}{
		"unknown engine":      {"opa", Params{Name: "pgcli"}, "kyverno, policy-controller, gatekeeper, ratify"},
		"no engine":           {"", Params{Name: "pgcli"}, "--engine (kyverno, policy-controller, gatekeeper, ratify)"},
		"no name":             {"gatekeeper", Params{}, "name:"},
		"repository with tag": {"gatekeeper", Params{Name: "pgcli", Repositories: []string{"ghcr.io/org/pgcli:1.0"}}, "without tag or digest"},
		"kyverno, no signer":  {"kyverno", with(func(p *Params) { p.Issuer, p.Subject = "", "" }), "signer.issuer"},
		"no identity":         {"policy-controller", with(func(p *Params) { p.Subject = "" }), "signer.identity"},
		"both identities":     {"kyverno", with(func(p *Params) { p.SubjectRegexp = "^x$" }), "not both"},
		"bad regexp":          {"kyverno", with(func(p *Params) { p.Subject, p.SubjectRegexp = "", "(" }), "identity regexp"},
		"unknown format":      {"policy-controller", with(func(p *Params) { p.Format = "oci" }), "use legacy"},
		"root uid":            {"kyverno", with(func(p *Params) { p.UID = 0 }), "user.uid"},
		"ratify for kyverno":  {"kyverno", with(func(p *Params) { p.Ratify = true }), "--engine gatekeeper"},
		"ratify, private":     {"ratify", with(func(p *Params) { p.Trust = &Trust{} }), "kyverno or policy-controller"},
		"bad repository":      {"kyverno", with(func(p *Params) { p.Repositories = []string{"ghcr.io/org/pgcli@sha256:" + strings.Repeat("a", 64)} }), "without tag or digest"},
		"unknown severity":    {"kyverno", with(func(p *Params) { p.Scan = &ScanRequirement{MaxSeverity: "severe"} }), "none, unknown, negligible, low, medium, high or critical"},
		"negative scan age":   {"policy-controller", with(func(p *Params) { p.Scan = &ScanRequirement{MaxAge: -time.Hour} }), "positive duration"},
		"empty scan rule":     {"kyverno", with(func(p *Params) { p.Scan = &ScanRequirement{MaxSeverity: "critical"} }), "--max-scan-age or a --max-severity below critical"},
	} {
		_, err := Generate(tc.engine, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errs.ExitCode(err) != errs.CodeInput {
			t.Errorf("%s: err = %v, want exit 2 mentioning %q", name, err, tc.want)
		}
	}
}

// TestApplyScanFlags: policy generate's scan flags override harden.yaml's
// scan requirement; given as zero, negative or empty they are refused
// (exit 2, naming the flag and value), never read as "not required".
func TestApplyScanFlags(t *testing.T) {
	dur := func(d time.Duration) *time.Duration { return &d }
	str := func(s string) *string { return &s }
	yes := true
	fromConfig := &ScanRequirement{MaxAge: 168 * time.Hour, MaxSeverity: "medium"}
	for name, tc := range map[string]struct {
		engine string
		base   *ScanRequirement
		f      ScanFlags
		want   *ScanRequirement
		err    string
	}{
		"none given":         {"kyverno", fromConfig, ScanFlags{}, fromConfig, ""},
		"age overrides":      {"kyverno", fromConfig, ScanFlags{MaxAge: dur(time.Hour)}, &ScanRequirement{MaxAge: time.Hour, MaxSeverity: "medium"}, ""},
		"severity, any case": {"policy-controller", nil, ScanFlags{MaxSeverity: str("Negligible"), IncludeUnfixed: &yes}, &ScanRequirement{MaxSeverity: "negligible", IncludeUnfixed: true}, ""},
		"zero age":           {"kyverno", fromConfig, ScanFlags{MaxAge: dur(0)}, nil, "--max-scan-age 0s: give a positive duration such as 168h"},
		"negative age":       {"kyverno", nil, ScanFlags{MaxAge: dur(-time.Hour)}, nil, "--max-scan-age -1h0m0s: give a positive duration"},
		"empty severity":     {"kyverno", fromConfig, ScanFlags{MaxSeverity: str("")}, nil, `--max-severity "": use none, unknown, negligible`},
		"garbage severity":   {"kyverno", nil, ScanFlags{MaxSeverity: str("0")}, nil, `--max-severity "0": use none`},
		"gatekeeper":         {"gatekeeper", nil, ScanFlags{MaxAge: dur(time.Hour)}, nil, "--engine gatekeeper cannot read attestations"},
	} {
		p := Params{Scan: tc.base}
		err := p.ApplyScanFlags(tc.engine, tc.f)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || errs.ExitCode(err) != errs.CodeInput {
				t.Errorf("%s: err = %v, want exit 2 mentioning %q", name, err, tc.err)
			}
			continue
		}
		if err != nil || p.Scan == nil || *p.Scan != *tc.want {
			t.Errorf("%s: scan %+v, %v; want %+v", name, p.Scan, err, tc.want)
		}
	}
	if *fromConfig != (ScanRequirement{MaxAge: 168 * time.Hour, MaxSeverity: "medium"}) {
		t.Errorf("ApplyScanFlags changed the requirement it was given: %+v", fromConfig)
	}
}

func TestLoadTrustRefuses(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(notJSON, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	noCA := filepath.Join(dir, "no-ca.json")
	if err := os.WriteFile(noCA, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "missing.json"): "no such file",
		notJSON:                            "trustedroot+json",
		noCA:                               "no certificate authority",
	} {
		_, err := LoadTrust(path)
		if err == nil || !strings.Contains(err.Error(), want) || errs.ExitCode(err) != errs.CodeInput {
			t.Errorf("%s: err = %v, want exit 2 mentioning %q", path, err, want)
		}
	}
}

// TestPublicGoodPolicies: without trust material the engines are left to
// their public-good defaults, so nothing private leaks into the policy.
func TestPublicGoodPolicies(t *testing.T) {
	p := Params{Name: "pgcli", Repositories: []string{"ghcr.io/org/pgcli"}, Issuer: "https://token.actions.githubusercontent.com",
		SubjectRegexp: "^https://github.com/org/x/.+$", UID: 10001, Format: FormatLegacy}
	for _, engine := range []string{"kyverno", "policy-controller"} {
		b, err := Generate(engine, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"roots:", "tsaCertChain", "TrustRoot", "trustRootRef", "ignoreTlog", "insecureIgnoreSCT", "ignoreSCT"} {
			if strings.Contains(string(b), leak) {
				t.Errorf("%s: public-good policy contains %q", engine, leak)
			}
		}
		if !strings.Contains(string(b), "ghcr.io/org/pgcli") || !strings.Contains(string(b), "10001") {
			t.Errorf("%s: policy does not govern the repository and uid:\n%s", engine, b)
		}
	}
}

const digestRef = "ghcr.io/example/pgcli@sha256:4b1e3c6f0a8d2e5b7c9f1a3d5e7b9c1f3a5d7e9b1c3f5a7d9e1b3c5f7a9d1e3b"

// TestGatekeeperWithGator runs the generated ConstraintTemplate and
// Constraint in Gatekeeper's own engine (gator, built from the Go module
// proxy by make tools) against admitted and denied workloads.
func TestGatekeeperWithGator(t *testing.T) {
	gator := findTool(t, "gator")
	policy, err := Gatekeeper(Params{Name: "pgcli", Repositories: []string{"ghcr.io/example/pgcli"}, ExemptImages: []string{"registry.k8s.io/pause*"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	policyPath := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyPath, policy, 0o644); err != nil {
		t.Fatal(err)
	}
	pod := func(containers string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + containers
	}
	cases := []struct {
		name, object string
		denied       []string // images named in violations
	}{
		{"pod by digest", pod("  containers:\n    - {name: pgcli, image: " + digestRef + "}\n"), nil},
		{"pod by tag", pod("  containers:\n    - {name: pgcli, image: ghcr.io/example/pgcli:4.3.0-r1}\n"), []string{"ghcr.io/example/pgcli:4.3.0-r1"}},
		{"pod without tag", pod("  containers:\n    - {name: pgcli, image: ghcr.io/example/pgcli}\n"), []string{"ghcr.io/example/pgcli"}},
		{"init container by tag", pod("  initContainers:\n    - {name: init, image: ghcr.io/example/pgcli:latest}\n  containers:\n    - {name: pgcli, image: " + digestRef + "}\n"),
			[]string{"ghcr.io/example/pgcli:latest"}},
		{"other repository by tag is not governed", pod("  containers:\n    - {name: db, image: postgres:16}\n"), nil},
		{"look-alike repository is not governed", pod("  containers:\n    - {name: x, image: ghcr.io/example/pgcli-extra:1}\n"), nil},
		{"deployment by tag", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: p}}\n  template:\n    metadata: {labels: {app: p}}\n    spec:\n      containers:\n        - {name: pgcli, image: ghcr.io/example/pgcli:4.3.0-r1}\n",
			[]string{"ghcr.io/example/pgcli:4.3.0-r1"}},
		{"cronjob by tag", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n            - {name: pgcli, image: ghcr.io/example/pgcli:4.3.0-r1}\n",
			[]string{"ghcr.io/example/pgcli:4.3.0-r1"}},
		{"deployment by digest", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: p}}\n  template:\n    metadata: {labels: {app: p}}\n    spec:\n      containers:\n        - {name: pgcli, image: " + digestRef + "}\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := filepath.Join(t.TempDir(), "object.yaml")
			if err := os.WriteFile(obj, []byte(tc.object), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(t.Context(), gator, "test", "--filename", policyPath, "--filename", obj, "--output", "json")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			var violations []struct {
				Msg string `json:"msg"`
			}
			if out := bytes.TrimSpace(stdout.Bytes()); len(out) > 0 {
				if err := json.Unmarshal(out, &violations); err != nil {
					t.Fatalf("gator output: %v\n%s\n%s", err, out, stderr.String())
				}
			}
			if (runErr != nil) != (len(tc.denied) > 0) {
				t.Fatalf("gator exit: %v (violations %v), want denied=%v\n%s", runErr, violations, len(tc.denied) > 0, stderr.String())
			}
			if len(violations) != len(tc.denied) {
				t.Fatalf("violations %v, want one for each of %v", violations, tc.denied)
			}
			for i, img := range tc.denied {
				if !strings.Contains(violations[i].Msg, `"`+img+`"`) || !strings.Contains(violations[i].Msg, "harden pin") {
					t.Errorf("violation %q does not name %s and the fix", violations[i].Msg, img)
				}
			}
		})
	}
}

// findTool returns a prebuilt peer CLI from $HARDEN_TOOLS_DIR or
// .cache/tools (make tools). Without one the test skips, or fails when
// HARDEN_REQUIRE_E2E=1 (make test, CI).
func findTool(t *testing.T, name string) string {
	t.Helper()
	dirs := []string{os.Getenv("HARDEN_TOOLS_DIR"), filepath.Join("..", "..", ".cache", "tools")}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p, err := filepath.Abs(filepath.Join(d, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("HARDEN_REQUIRE_E2E") == "1" {
		t.Fatalf("%s is not built; run make tools engines (HARDEN_REQUIRE_E2E=1)", name)
	}
	t.Skipf("skipping: %s is not built; run make tools engines to build it from the Go module proxy", name)
	return ""
}

// TestRequirementsMatchHarden: the policies require what harden attests.
func TestRequirementsMatchHarden(t *testing.T) {
	if BuildType != provenance.BuildType || PredicateSLSA != provenance.PredicateType {
		t.Fatalf("policies require build type %s / %s; harden writes %s / %s", BuildType, PredicateSLSA, provenance.BuildType, provenance.PredicateType)
	}
}

// TestScanRequirementFromConfig: scan.maxAttestationAge makes the policies
// require a fresh scan with nothing the release gate (scan.failOn) would
// have failed.
func TestScanRequirementFromConfig(t *testing.T) {
	for failOn, want := range map[string]string{"critical": "high", "high": "medium", "medium": "low", "low": "negligible", "negligible": "unknown"} {
		c := &config.Config{Name: "pgcli", Scan: config.Scan{FailOn: failOn, MaxAttestationAge: config.Duration{Duration: 48 * time.Hour}}}
		p := ParamsFor(c)
		if p.Scan == nil || p.Scan.MaxSeverity != want || p.Scan.MaxAge != 48*time.Hour {
			t.Errorf("failOn %s: scan requirement %+v, want max severity %s, 48h", failOn, p.Scan, want)
		}
	}
	if p := ParamsFor(&config.Config{Name: "pgcli", Scan: config.Scan{FailOn: "high"}}); p.Scan != nil {
		t.Errorf("no maxAttestationAge, yet the policies require a scan: %+v", p.Scan)
	}
}
