package admission

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/internal/errs"
)

// testVerifierKey is a verifier's public key (cosign.pub), for policies
// that are only rendered.
const testVerifierKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqVxwLtnzh1+yaVGwacyQX6Q/oHEn
ABPUaTKuQMi3rgG8jcCeSiLfbFlzan9jWPtdkHr84gQJvYMGbnqQjlU9Ow==
-----END PUBLIC KEY-----
`

// vsaPolicyParams is a --from-vsa policy for ghcr.io/example/pgcli,
// verified by a GitHub Actions workflow (keyless) or by testVerifierKey.
func vsaPolicyParams(key bool) Params {
	p := Params{Name: "pgcli", Repositories: []string{"ghcr.io/example/pgcli"}, Format: FormatLegacy,
		VSA: &VSARequirement{MaxAge: DefaultVSAMaxAge, Level: DefaultVSALevel}}
	if key {
		p.VSA.PublicKey = testVerifierKey
	} else {
		p.Issuer = "https://token.actions.githubusercontent.com"
		p.SubjectRegexp = `^https://github\.com/example/pgcli-container/\.github/workflows/verify\.yml@refs/heads/main$`
	}
	return p
}

// TestVSAPolicies: the --from-vsa policies are what testdata/vsa holds
// (HARDEN_UPDATE_GOLDEN=1 rewrites it), and say what they must: no
// signature or provenance requirement, one VSA attestation by the
// verifier, with its result, level and age conditions.
func TestVSAPolicies(t *testing.T) {
	for _, tc := range []struct {
		engine string
		key    bool
		file   string
	}{
		{"kyverno", false, "kyverno-keyless.yaml"},
		{"kyverno", true, "kyverno-key.yaml"},
		{"policy-controller", false, "policy-controller-keyless.yaml"},
		{"policy-controller", true, "policy-controller-key.yaml"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Generate(tc.engine, vsaPolicyParams(tc.key))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "vsa", tc.file)
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
				t.Errorf("%s differs from what harden generates (HARDEN_UPDATE_GOLDEN=1 rewrites it):\n%s", path, got)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(got, &doc); err != nil {
				t.Fatal(err)
			}
			if tc.engine == "kyverno" {
				checkKyvernoVSA(t, doc, tc.key)
			} else {
				checkPolicyControllerVSA(t, doc, tc.key)
			}
			for _, absent := range []string{PredicateSLSA, PredicateSPDX, PredicateVuln, "10001"} {
				if strings.Contains(string(got), absent) {
					t.Errorf("the VSA policy still requires %q", absent)
				}
			}
		})
	}
}

// dig walks a decoded YAML document by map keys and list indexes.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a map at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

func checkKyvernoVSA(t *testing.T, doc map[string]any, key bool) {
	t.Helper()
	if doc["kind"] != "ClusterPolicy" || dig(t, doc, "metadata", "name") != "pgcli-verify-vsa" {
		t.Fatalf("not the VSA ClusterPolicy: %v %v", doc["kind"], dig(t, doc, "metadata", "name"))
	}
	verify := dig(t, doc, "spec", "rules", 0, "verifyImages", 0).(map[string]any)
	if _, ok := verify["attestors"]; ok {
		t.Error("the VSA policy also requires a signature")
	}
	if verify["verifyDigest"] != true || verify["mutateDigest"] != false || verify["required"] != true {
		t.Errorf("by digest: %v %v %v", verify["verifyDigest"], verify["mutateDigest"], verify["required"])
	}
	atts := verify["attestations"].([]any)
	if len(atts) != 1 || dig(t, atts, 0, "type") != PredicateVSA {
		t.Fatalf("attestations: %v", atts)
	}
	entry := dig(t, atts, 0, "attestors", 0, "entries", 0).(map[string]any)
	if key {
		if dig(t, entry, "keys", "publicKeys") != testVerifierKey || entry["keyless"] != nil {
			t.Errorf("key attestor: %v", entry)
		}
		if dig(t, entry, "keys", "rekor", "ignoreTlog") != true || dig(t, entry, "keys", "ctlog", "ignoreSCT") != true {
			t.Errorf("a key policy must not require a log entry or SCT: %v", entry)
		}
	} else if dig(t, entry, "keyless", "issuer") != "https://token.actions.githubusercontent.com" || dig(t, entry, "keyless", "subjectRegExp") == nil || entry["keys"] != nil {
		t.Errorf("keyless attestor: %v", entry)
	}
	var conds []string
	for _, c := range dig(t, atts, 0, "conditions", 0, "all").([]any) {
		m := c.(map[string]any)
		b, _ := yaml.Marshal(m["value"])
		conds = append(conds, m["key"].(string)+" "+m["operator"].(string)+" "+strings.TrimSpace(string(b)))
	}
	want := []string{
		"{{ verificationResult }} Equals PASSED",
		"{{ verifiedLevels }} AnyIn - SLSA_BUILD_LEVEL_1\n- SLSA_BUILD_LEVEL_2\n- SLSA_BUILD_LEVEL_3",
		"{{ time_since('', '{{ timeVerified }}', '') }} LessThanOrEquals 168h0m0s",
		"{{ time_since('', '{{ timeVerified }}', '') }} GreaterThanOrEquals -5m0s",
	}
	if strings.Join(conds, "\n") != strings.Join(want, "\n") {
		t.Errorf("conditions:\n%s\nwant:\n%s", strings.Join(conds, "\n"), strings.Join(want, "\n"))
	}
}

func checkPolicyControllerVSA(t *testing.T, doc map[string]any, key bool) {
	t.Helper()
	if doc["kind"] != "ClusterImagePolicy" || dig(t, doc, "metadata", "name") != "pgcli-verify-vsa" {
		t.Fatalf("not the VSA ClusterImagePolicy: %v", doc)
	}
	if g := dig(t, doc, "spec", "images", 0, "glob"); g != "ghcr.io/example/pgcli@sha256:*" {
		t.Errorf("images: %v", g)
	}
	auths := dig(t, doc, "spec", "authorities").([]any)
	if len(auths) != 1 {
		t.Fatalf("authorities: %v", auths)
	}
	a := auths[0].(map[string]any)
	if key {
		if dig(t, a, "key", "data") != testVerifierKey || a["keyless"] != nil || a["ctlog"] != nil {
			t.Errorf("key authority: %v", a)
		}
	} else if dig(t, a, "keyless", "identities", 0, "issuer") != "https://token.actions.githubusercontent.com" || a["key"] != nil {
		t.Errorf("keyless authority: %v", a)
	}
	atts := a["attestations"].([]any)
	if len(atts) != 1 || dig(t, atts, 0, "predicateType") != PredicateVSA || dig(t, atts, 0, "policy", "type") != "rego" {
		t.Fatalf("attestations: %v", atts)
	}
}

// TestVSARego evaluates the policy-controller Rego in OPA on VSA
// predicates: only a PASSED, fresh one at the level passes, and a
// missing or malformed field is a denial, never a pass.
func TestVSARego(t *testing.T) {
	req := VSARequirement{MaxAge: 24 * time.Hour, Level: "SLSA_BUILD_LEVEL_2", PolicyDigest: "sha256:" + strings.Repeat("a", 64)}
	q, err := rego.New(rego.Query("data.sigstore.isCompliant"), rego.Module("vsa.rego", req.rego())).PrepareForEval(context.Background())
	if err != nil {
		t.Fatalf("the VSA Rego does not compile: %v\n%s", err, req.rego())
	}
	now := time.Now().UTC()
	good := func() map[string]any {
		return map[string]any{
			"verificationResult": "PASSED",
			"verifiedLevels":     []any{"SLSA_BUILD_LEVEL_2"},
			"timeVerified":       now.Add(-time.Hour).Format(time.RFC3339),
			"policy":             map[string]any{"digest": map[string]any{"sha256": strings.Repeat("a", 64)}},
		}
	}
	with := func(k string, v any) map[string]any {
		p := good()
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	for _, tc := range []struct {
		name      string
		predicate any
		want      string // "" passes; else part of the error
	}{
		{"passed, fresh, level 2", good(), ""},
		{"level 3 reaches level 2", with("verifiedLevels", []any{"SLSA_BUILD_LEVEL_3"}), ""},
		{"clock skew within 5m", with("timeVerified", now.Add(time.Minute).Format(time.RFC3339)), ""},
		{"failed", with("verificationResult", "FAILED"), "the verification result is FAILED, not PASSED"},
		{"no result", with("verificationResult", nil), "the verification result is null, not PASSED"},
		{"result of another type", with("verificationResult", true), "not PASSED"},
		{"level 1", with("verifiedLevels", []any{"SLSA_BUILD_LEVEL_1"}), "include neither SLSA_BUILD_LEVEL_2 nor a higher level"},
		{"no levels", with("verifiedLevels", nil), "include neither"},
		{"levels as a string", with("verifiedLevels", "SLSA_BUILD_LEVEL_2"), "include neither"},
		{"stale", with("timeVerified", now.Add(-25*time.Hour).Format(time.RFC3339)), "more than 24h0m0s ago"},
		{"in the future", with("timeVerified", now.Add(time.Hour).Format(time.RFC3339)), "more than 5m0s ahead"},
		{"no time", with("timeVerified", nil), "or not a time"},
		{"not a time", with("timeVerified", "yesterday"), "or not a time"},
		{"another policy", with("policy", map[string]any{"digest": map[string]any{"sha256": strings.Repeat("b", 64)}}), "made under policy sha256:" + strings.Repeat("b", 64) + ", not sha256:" + strings.Repeat("a", 64)},
		{"no policy", with("policy", nil), "made under policy none, not sha256:"},
		{"policy digest of another type", with("policy", map[string]any{"digest": map[string]any{"sha256": 1}}), "made under policy none"},
		{"no predicate", nil, "not PASSED"},
		{"predicate of another type", "PASSED", "not PASSED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := map[string]any{"predicateType": PredicateVSA}
			if tc.predicate != nil {
				input["predicate"] = tc.predicate
			}
			rs, err := q.Eval(context.Background(), rego.EvalInput(input))
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || len(rs[0].Expressions) != 1 {
				t.Fatalf("no isCompliant: %v", rs)
			}
			res := rs[0].Expressions[0].Value.([]any)[0].(map[string]any)
			if ok := res["result"] == true; ok != (tc.want == "") {
				t.Fatalf("result %v (%v), want pass=%v", res["result"], res["error"], tc.want == "")
			}
			if tc.want != "" && !strings.Contains(res["error"].(string), tc.want) {
				t.Fatalf("error %q, want it to contain %q", res["error"], tc.want)
			}
		})
	}
}

// TestVSAGenerateRefuses: a --from-vsa policy without a verifier, with
// two, for an engine that cannot read attestations, or with a limit that
// cannot be meant is refused with exit 2.
func TestVSAGenerateRefuses(t *testing.T) {
	keyless, keyed := vsaPolicyParams(false), vsaPolicyParams(true)
	with := func(p Params, edit func(*Params)) Params {
		v := *p.VSA
		p.VSA = &v
		edit(&p)
		return p
	}
	for name, tc := range map[string]struct {
		engine string
		p      Params
		want   string
	}{
		"gatekeeper":             {"gatekeeper", keyless, "--from-vsa: --engine gatekeeper cannot read attestations"},
		"ratify":                 {"ratify", keyless, "--from-vsa: --engine ratify cannot read attestations"},
		"no verifier":            {"kyverno", with(keyless, func(p *Params) { p.Issuer, p.SubjectRegexp = "", "" }), "--from-vsa needs the verifier"},
		"key and identity":       {"policy-controller", with(keyed, func(p *Params) { p.Issuer, p.Subject = "https://issuer.example", "x" }), "not both"},
		"no issuer":              {"kyverno", with(keyless, func(p *Params) { p.Issuer = "" }), "no OIDC issuer"},
		"zero age":               {"kyverno", with(keyless, func(p *Params) { p.VSA.MaxAge = 0 }), "--max-vsa-age 0s: give a positive duration"},
		"negative age":           {"policy-controller", with(keyless, func(p *Params) { p.VSA.MaxAge = -time.Hour }), "--max-vsa-age -1h0m0s: give a positive duration"},
		"unknown level":          {"kyverno", with(keyless, func(p *Params) { p.VSA.Level = "SLSA_SOURCE_LEVEL_2" }), "--require-level"},
		"empty level":            {"kyverno", with(keyless, func(p *Params) { p.VSA.Level = "" }), "--require-level"},
		"bad policy digest":      {"kyverno", with(keyless, func(p *Params) { p.VSA.PolicyDigest = "sha256:abc" }), "--vsa-policy-digest"},
		"not a key":              {"kyverno", with(keyed, func(p *Params) { p.VSA.PublicKey = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" }), "not a PEM public key"},
		"key with a trust root":  {"kyverno", with(keyed, func(p *Params) { p.Trust = &Trust{} }), "--trusted-root is for a keyless verifier"},
		"key, bundles, p-c":      {"policy-controller", with(keyed, func(p *Params) { p.Format = FormatBundle }), "keyless authorities only"},
		"unknown format, key":    {"kyverno", with(keyed, func(p *Params) { p.Format = "oci" }), "use legacy"},
		"unknown format":         {"policy-controller", with(keyless, func(p *Params) { p.Format = "oci" }), "use legacy"},
		"repository with digest": {"kyverno", with(keyless, func(p *Params) { p.Repositories = []string{"ghcr.io/x@sha256:" + strings.Repeat("a", 64)} }), "without tag or digest"},
	} {
		_, err := Generate(tc.engine, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errs.ExitCode(err) != errs.CodeInput {
			t.Errorf("%s: err = %v, want exit 2 mentioning %q", name, err, tc.want)
		}
	}
	// Kyverno reads key-signed bundles.
	if _, err := Generate("kyverno", with(keyed, func(p *Params) { p.Format = FormatBundle })); err != nil {
		t.Errorf("kyverno, key, bundle: %v", err)
	}
	// Levels are read as harden verify reads them.
	for in, want := range map[string]string{"2": "SLSA_BUILD_LEVEL_2", "slsa_build_level_3": "SLSA_BUILD_LEVEL_3", "0": "SLSA_BUILD_LEVEL_0"} {
		if got, err := ParseVSALevel(in); err != nil || got != want {
			t.Errorf("ParseVSALevel(%q) = %q, %v; want %s", in, got, err, want)
		}
	}
}

// TestLoadVerifierKey: --key takes a PEM public key and refuses anything
// else, naming the file.
func TestLoadVerifierKey(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "cosign.pub")
	priv := filepath.Join(dir, "cosign.key")
	if err := os.WriteFile(pub, []byte(testVerifierKey), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(priv, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadVerifierKey(pub); err != nil || got != testVerifierKey {
		t.Errorf("LoadVerifierKey(cosign.pub) = %q, %v", got, err)
	}
	for path, want := range map[string]string{filepath.Join(dir, "missing.pub"): "no such file", priv: "is not a PEM public key"} {
		_, err := LoadVerifierKey(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) || errs.ExitCode(err) != errs.CodeInput {
			t.Errorf("%s: err = %v, want exit 2 naming the file and %q", path, err, want)
		}
	}
}
