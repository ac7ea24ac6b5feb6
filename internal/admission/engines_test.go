package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

const (
	releaser = "release@example.com"
	intruder = "intruder@example.com"
)

// images are the fixture image published as the engines' cases: the same
// index in several repositories, each signed and attested differently.
type images struct {
	st                                  *sigstoretest.Stack
	good, unsigned, otherSigner, noProv name.Digest
	noScan                              name.Digest // signed, provenance and SBOM, no vuln scan
	tag                                 name.Tag    // a tag of good
	repos                               []string
}

// publishCases releases the fixture image with the local Sigstore stack
// to an in-process registry, in both storage layouts (legacy tags and
// bundles), the way harden release does. The registry has no referrers
// API, so bundles are found through the sha256-<hex> fallback tag: the
// in-process registry's referrers API reports the config media type as
// each referrer's artifactType instead of the manifest's, and Kyverno
// selects bundles by artifactType.
func publishCases(t *testing.T) *images {
	t.Helper()
	if testing.Short() {
		t.Skip("admission engines: builds the fixture image and signs it with the local Sigstore stack; skipped in -short mode")
	}
	ctx := context.Background()
	st := sigstoretest.Start(t)
	res := buildtest.Build(t, buildtest.Options{Registry: registrytest.Start(t, nil)})
	signer := func(email string) *attest.Attester {
		s, err := attest.NewSigner(ctx, attest.SignerParams{IdentityToken: st.Issuer.Token(t, email),
			TrustedRoot: st.TrustedRootPath, SigningConfig: st.SigningConfigPath, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		return &attest.Attester{Signer: s, Store: attach.New(res.Client), Storage: attach.Both}
	}
	good, bad := signer(releaser), signer(intruder)
	p := attest.Params{Config: res.Config, HardenVersion: "test", Getenv: func(string) string { return "" }}
	var stmts []attest.Statement // made once, for the good copy; the others have the same digests

	im := &images{st: st}
	publish := func(path string, a *attest.Attester, types ...string) name.Digest {
		rel, subs := res.Copy(t, nil, "admission/"+path)
		im.repos = append(im.repos, rel.Repository)
		if a == nil {
			return subs[0]
		}
		if _, err := a.Sign(ctx, subs); err != nil {
			t.Fatal(err)
		}
		if stmts == nil {
			facts := &attest.Facts{Record: res.Record, Release: rel, SBOMs: res.SBOMs(t, rel.Repository)}
			facts.Scans = scanReports(rel.Platforms)
			var err error
			if stmts, err = attest.Statements(p, facts, []string{attest.TypeSLSA, attest.TypeSPDX, attest.TypeVuln}); err != nil {
				t.Fatal(err)
			}
		}
		var mine []attest.Statement
		for _, s := range stmts {
			if !slices.Contains(types, s.PredicateType) {
				continue
			}
			var to []name.Digest
			for _, d := range s.AttachTo {
				to = append(to, subs[0].Context().Digest(d.DigestStr()))
			}
			s.AttachTo = to
			mine = append(mine, s)
		}
		if _, err := a.Attest(ctx, mine); err != nil {
			t.Fatal(err)
		}
		return subs[0]
	}
	all := []string{PredicateSLSA, PredicateSPDX, PredicateVuln}
	im.good = publish("good", good, all...)
	im.noScan = publish("no-scan", good, PredicateSLSA, PredicateSPDX)
	im.unsigned = publish("unsigned", nil)
	im.otherSigner = publish("other-signer", bad, all...)
	im.noProv = publish("no-provenance", good, PredicateSPDX)
	im.tag = im.good.Context().Tag("4.3.0-r1")
	desc, err := remote.Get(im.good)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(im.tag, desc); err != nil {
		t.Fatal(err)
	}
	return im
}

// params governs every case's repository with the local stack's trust.
func (im *images) params(t *testing.T, format string) Params {
	t.Helper()
	trust, err := LoadTrust(im.st.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	// The local stack runs Rekor v2, whose entries the legacy layout cannot
	// carry: legacy verifiers rely on the RFC 3161 timestamps instead.
	return Params{Name: "pgcli", Repositories: im.repos, Issuer: im.st.Issuer.URL(), Subject: releaser,
		UID: 10001, Format: format, Trust: trust, IgnoreTlog: true}
}

type verdictCase struct {
	name    string
	image   string
	admit   bool
	because string // part of policy-controller's reason for a denial
	// edit, when set, changes the policy for this case.
	edit func(*Params)
	// kyverno is part of Kyverno's reason for a denial (legacy form).
	kyverno string
}

// writeScans writes the scan stage's reports for the fixture's platforms:
// one fixable High finding (a real advisory for the fixture's sqlparse),
// scanned now.
func scanReports(platforms []dist.Platform) []scan.PlatformReport {
	now := time.Now().UTC()
	var out []scan.PlatformReport
	for _, pl := range platforms {
		r := &scan.Report{
			Scanner:  scan.Scanner{Name: "grype", Version: "0.121.3", URI: "https://github.com/anchore/grype"},
			DB:       scan.DBStatus{Schema: "v6.1.0", Built: now.Add(-time.Hour), Source: "test"},
			Started:  now,
			Finished: now,
			Findings: []scan.Finding{{ID: "GHSA-2m57-hf25-phgg", Severity: "High", Package: "sqlparse", Version: "0.4.2", Type: "python",
				FixState: "fixed", FixedIn: []string{"0.4.4"}}},
		}
		out = append(out, scan.PlatformReport{Platform: pl.Platform, Digest: pl.Digest, Report: r})
	}
	return out
}

func (im *images) cases() []verdictCase {
	return []verdictCase{
		{"signed and attested, by digest", im.good.String(), true, "", nil, ""},
		{"unsigned", im.unsigned.String(), false, "", nil, "no signatures found"},
		{"signed by another identity", im.otherSigner.String(), false, "", nil, "subject mismatch"},
		{"no provenance", im.noProv.String(), false, "", nil, "attestions not found for predicate type " + PredicateSLSA},
		{"tag reference", im.tag.String(), false, "", nil, "missing digest"},
		{"provenance records another uid", im.good.String(), false, "uid 10001, not 10002", func(p *Params) { p.UID = 10002 }, ".attestations[0].attestors[0].entries[0].keyless: attestation checks failed"},
		{"fresh scan, nothing worse than high", im.good.String(), true, "", func(p *Params) {
			p.Scan = &ScanRequirement{MaxAge: 168 * time.Hour, MaxSeverity: "high"}
		}, ""},
		{"no vulnerability scan", im.noScan.String(), false, "no matching attestations with type " + PredicateVuln, func(p *Params) {
			p.Scan = &ScanRequirement{MaxAge: 168 * time.Hour}
		}, "attestions not found for predicate type " + PredicateVuln},
		{"scan older than the maximum age", im.good.String(), false, "more than 1s ago", func(p *Params) {
			p.Scan = &ScanRequirement{MaxAge: time.Second}
		}, ".attestations[2].attestors[0].entries[2].keyless: attestation checks failed"},
		{"fixable finding worse than medium", im.good.String(), false, "GHSA-2m57-hf25-phgg in sqlparse 0.4.2 is High", func(p *Params) {
			p.Scan = &ScanRequirement{MaxAge: 168 * time.Hour, MaxSeverity: "medium"}
		}, ".attestations[2].attestors[0].entries[2].keyless: attestation checks failed"},
	}
}

// TestEngineVerdicts runs the generated policies in each engine's own
// verifier, built from the Go module proxy by make engines, against the
// released image and its bad variants.
func TestEngineVerdicts(t *testing.T) {
	kyverno := findTool(t, "kubectl-kyverno")
	tester := findTool(t, "policy-tester")
	im := publishCases(t)
	t.Run("kyverno", func(t *testing.T) { kyvernoVerdicts(t, kyverno, im) })
	t.Run("policy-controller", func(t *testing.T) { policyControllerVerdicts(t, tester, im) })
}

// kyvernoVerdicts runs the ClusterPolicy in kyverno apply.
func kyvernoVerdicts(t *testing.T, kyverno string, im *images) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gen := func(p Params, n int) string {
		b, err := Kyverno(p)
		if err != nil {
			t.Fatal(err)
		}
		return write(fmt.Sprintf("policy-%s-%d.yaml", p.Format, n), b)
	}
	// The bundle form takes trust only from Kyverno's TUF client: the
	// stack's trusted root is served from a local TUF mirror, as a cluster
	// would with the controller's --tufMirror and --tufRoot.
	trusted, err := os.ReadFile(im.st.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	tufRoot := "TUF_ROOT=" + tufCache(t, trusted)
	for _, format := range []string{FormatLegacy, FormatBundle} {
		policy := gen(im.params(t, format), -1)
		for i, tc := range im.cases() {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				policy := policy
				if tc.edit != nil {
					p := im.params(t, format)
					tc.edit(&p)
					policy = gen(p, i)
				}
				pod := write(fmt.Sprintf("pod-%s-%d.yaml", format, i), podFor(tc.image))
				r := kyvernoApply(t, kyverno, policy, pod, tufRoot)
				if tc.admit != (r.fail == 0 && r.pass > 0) {
					t.Fatalf("kyverno: admit=%v, want %v\n%s", !tc.admit, tc.admit, r.out)
				}
				if format == FormatLegacy && tc.kyverno != "" && !strings.Contains(r.out, tc.kyverno) {
					t.Fatalf("kyverno denied %s, but not for %q:\n%s", tc.image, tc.kyverno, r.out)
				}
				t.Logf("kyverno (%s) %s: pass %d fail %d%s", format, tc.image, r.pass, r.fail, r.reason())
			})
		}
	}
}

// TestCommittedPoliciesLoad: each engine accepts the committed pgcli
// policies (public-good Sigstore), shown on a workload they do not govern,
// which needs no registry or Sigstore.
func TestCommittedPoliciesLoad(t *testing.T) {
	kyverno := findTool(t, "kubectl-kyverno")
	tester := findTool(t, "policy-tester")
	other := "registry.example/other@sha256:" + strings.Repeat("0", 64)
	pod := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(pod, podFor(other), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"pgcli.yaml", "pgcli-bundle.yaml"} {
		r := kyvernoApply(t, kyverno, filepath.Join("..", "..", "policy", "kyverno", f), pod)
		if r.fail != 0 {
			t.Errorf("kyverno %s: %d failures on an ungoverned Pod:\n%s", f, r.fail, r.out)
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(t.Context(), tester, "-policy", filepath.Join("..", "..", "policy", "policy-controller", f), "-image", other)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		out := stdout.String() + stderr.String()
		// Validation comes first; the image is then left uncovered.
		if !strings.Contains(out, "Policy was successfully validated") || err == nil || !strings.Contains(out, "is uncovered by policy") {
			t.Errorf("policy-controller %s: %v\n%s", f, err, out)
		}
	}
}

type kyvernoResult struct {
	pass, fail, errors int
	out                string
}

var kyvernoSummary = regexp.MustCompile(`pass: (\d+), fail: (\d+), warn: \d+, error: (\d+), skip: \d+`)

func kyvernoApply(t *testing.T, kyverno, policy, resource string, env ...string) kyvernoResult {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), kyverno, "apply", policy, "--resource", resource)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(append(os.Environ(), "HOME="+t.TempDir()), env...)
	runErr := cmd.Run()
	s := out.String()
	// An invalid policy is skipped with exit 0: that must not pass.
	if strings.Contains(s, "Policies Skipped") {
		t.Fatalf("kyverno skipped the policy as invalid:\n%s", s)
	}
	m := kyvernoSummary.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("kyverno apply: %v; no summary in:\n%s", runErr, s)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	r := kyvernoResult{pass: n(1), fail: n(2), errors: n(3), out: s}
	if r.errors != 0 {
		t.Fatalf("kyverno reported errors:\n%s", s)
	}
	if (runErr != nil) != (r.fail > 0) {
		t.Fatalf("kyverno exit %v with %d failures:\n%s", runErr, r.fail, s)
	}
	return r
}

// reason is Kyverno's first stated reason for a failure, if any.
func (r kyvernoResult) reason() string {
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, "1 - ") {
			return ": " + strings.TrimPrefix(l, "1 - ")
		}
	}
	return ""
}

func podFor(image string) []byte {
	return []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: pgcli, namespace: default}\nspec:\n  containers:\n    - {name: pgcli, image: \"" + image + "\"}\n")
}

// policyControllerVerdicts runs the ClusterImagePolicy and TrustRoot in
// policy-controller's tester.
func policyControllerVerdicts(t *testing.T, tester string, im *images) {
	dir := t.TempDir()
	files := func(p Params, n int) (trustRoot, cip string) {
		b, err := PolicyController(p)
		if err != nil {
			t.Fatal(err)
		}
		docs := strings.Split(string(b), "\n---\n")
		if len(docs) != 2 {
			t.Fatalf("want a TrustRoot and a ClusterImagePolicy, got %d documents", len(docs))
		}
		base := filepath.Join(dir, fmt.Sprintf("%s-%d", p.Format, n))
		for i, d := range docs {
			if err := os.WriteFile(fmt.Sprintf("%s-%d.yaml", base, i), []byte(d), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return base + "-0.yaml", base + "-1.yaml"
	}
	tr, cip := files(im.params(t, FormatLegacy), -1)
	cases := im.cases()
	cases[1].because = "no matching attestations"
	cases[2].because = "none of the expected identities matched"
	cases[3].because = "no matching attestations"
	cases[4].because = "is uncovered by policy"
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, cip := tr, cip
			if tc.edit != nil {
				p := im.params(t, FormatLegacy)
				tc.edit(&p)
				tr, cip = files(p, i)
			}
			errs, out := runTester(t, tester, tr, cip, tc.image)
			if tc.admit != (len(errs) == 0) {
				t.Fatalf("policy-controller: errors %q, want admit=%v\n%s", errs, tc.admit, out)
			}
			if !tc.admit && !strings.Contains(strings.Join(errs, "\n"), tc.because) {
				t.Fatalf("policy-controller denied %s for %q, want a reason containing %q", tc.image, errs, tc.because)
			}
			t.Logf("policy-controller %s: %q", tc.image, errs)
		})
	}
	// policy-controller v0.13.1 reads bundles with sigstore-go v0.7.2,
	// which refuses Rekor v2 entries ("nil value in transaction log
	// entry"); the local stack has only Rekor v2. The bundle policy must
	// still validate, and verify once the engine reads Rekor v2 bundles.
	t.Run("bundle form", func(t *testing.T) {
		tr, cip := files(im.params(t, FormatBundle), -2)
		errs, out := runTester(t, tester, tr, cip, im.good.String())
		if !strings.Contains(out, "Policy was successfully validated") {
			t.Fatalf("policy-controller did not validate the bundle policy:\n%s", out)
		}
		if len(errs) > 0 && !strings.Contains(strings.Join(errs, "\n"), "no valid bundles exist in registry") {
			t.Fatalf("policy-controller refused the bundle policy's image for an unexpected reason: %q", errs)
		}
		t.Logf("bundle form against Rekor v2 bundles: %q", errs)
	})
}

func runTester(t *testing.T, tester, trustRoot, cip, image string) ([]string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args := []string{"-policy", cip, "-image", image}
	if trustRoot != "" {
		args = append(args, "-trustroot", trustRoot)
	}
	cmd := exec.CommandContext(t.Context(), tester, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	runErr := cmd.Run()
	out := stdout.String() + stderr.String()
	if runErr == nil {
		return nil, out
	}
	var res struct {
		Errors []string `json:"errors"`
	}
	line := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal(line, &res); err != nil || len(res.Errors) == 0 {
		t.Fatalf("tester: %v, and no errors document:\n%s", runErr, out)
	}
	return res.Errors, out
}
