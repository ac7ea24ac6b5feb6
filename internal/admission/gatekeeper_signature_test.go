package admission

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"
)

// TestSignatureConstraint runs the HardenImageSignature Rego (with its
// lib) in OPA as Gatekeeper does, with external_data answered by a test
// double in the response shape Ratify's provider returns: responses
// [[image, {isSuccess}]], errors [[image, message]] and system_error.
// gator cannot run it: it has no external_data.
func TestSignatureConstraint(t *testing.T) {
	const good = "ghcr.io/org/pgcli@sha256:" + "1111111111111111111111111111111111111111111111111111111111111111"
	const bad = "ghcr.io/org/pgcli@sha256:" + "2222222222222222222222222222222222222222222222222222222222222222"
	answer := func(keys []string) map[string]any {
		var responses, errs []any
		for _, k := range keys {
			switch {
			case k == good:
				responses = append(responses, []any{k, map[string]any{"isSuccess": true}})
			case k == bad:
				responses = append(responses, []any{k, map[string]any{"isSuccess": false}})
			case strings.Contains(k, "broken"):
				errs = append(errs, []any{k, "registry unreachable"})
			}
			// Anything else gets no answer at all.
		}
		return map[string]any{"responses": responses, "errors": errs, "system_error": ""}
	}
	pod := func(images ...string) map[string]any {
		var cs []any
		for i, img := range images {
			cs = append(cs, map[string]any{"name": fmt.Sprintf("c%d", i), "image": img})
		}
		return map[string]any{"kind": "Pod", "spec": map[string]any{"containers": cs}}
	}
	params := map[string]any{"provider": RatifyProvider, "repositories": []any{"ghcr.io/org/pgcli"}, "exemptImages": []any{"ghcr.io/org/pgcli@sha256:3*"}}
	for _, tc := range []struct {
		name      string
		object    map[string]any
		systemErr string
		want      []string // parts of each violation, sorted
		calls     int
	}{
		{name: "verified", object: pod(good), calls: 1},
		{name: "not verified", object: pod(good, bad), want: []string{bad + ": no signature by the release identity verifies"}, calls: 1},
		{name: "provider error for one image", object: pod("ghcr.io/org/pgcli@sha256:broken"), want: []string{"ghcr.io/org/pgcli@sha256:broken: the signature check failed: registry unreachable"}, calls: 1},
		{name: "no answer fails closed", object: pod("ghcr.io/org/pgcli:1.0"), want: []string{`ghcr.io/org/pgcli:1.0: the signature provider "ratify-provider" gave no answer`}, calls: 1},
		{name: "provider down fails closed", object: pod(good), systemErr: "connection refused", want: []string{`the signature provider "ratify-provider" failed (connection refused)`}, calls: 1},
		{name: "other repositories are not asked about", object: pod("docker.io/library/postgres:16", "ghcr.io/org/pgcli-extra:1"), calls: 0},
		{name: "exempt image", object: pod("ghcr.io/org/pgcli@sha256:3333"), calls: 0},
		{name: "deployment template", object: map[string]any{"kind": "Deployment", "spec": map[string]any{"template": pod(bad)}},
			want: []string{bad + ": no signature by the release identity verifies"}, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			externalData := rego.Function1(&rego.Function{Name: "external_data", Decl: types.NewFunction(types.Args(types.A), types.A)},
				func(_ rego.BuiltinContext, req *ast.Term) (*ast.Term, error) {
					calls++
					var in struct {
						Provider string   `json:"provider"`
						Keys     []string `json:"keys"`
					}
					if err := ast.As(req.Value, &in); err != nil {
						return nil, err
					}
					if in.Provider != RatifyProvider {
						return nil, fmt.Errorf("asked provider %q", in.Provider)
					}
					resp := answer(in.Keys)
					if tc.systemErr != "" {
						resp = map[string]any{"responses": []any{}, "errors": []any{}, "system_error": tc.systemErr}
					}
					v, err := ast.InterfaceToValue(resp)
					return ast.NewTerm(v), err
				})
			r := rego.New(rego.Query("data.hardenimagesignature.violation"),
				rego.ParsedModule(mustParse(t, "lib.rego", gatekeeperLib)),
				rego.ParsedModule(mustParse(t, "signature.rego", signatureRego)),
				externalData,
				rego.Input(map[string]any{"parameters": params, "review": map[string]any{"object": tc.object}}))
			rs, err := r.Eval(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if len(rs) == 1 {
				for _, v := range rs[0].Expressions[0].Value.([]any) {
					got = append(got, v.(map[string]any)["msg"].(string))
				}
			}
			sort.Strings(got)
			if len(got) != len(tc.want) {
				t.Fatalf("violations %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("violation %q, want it to contain %q", got[i], tc.want[i])
				}
			}
			if calls != tc.calls {
				t.Errorf("external_data called %d times, want %d", calls, tc.calls)
			}
		})
	}
}

// mustParse parses a template's Rego as Gatekeeper's engine does (v0).
func mustParse(t *testing.T, file, src string) *ast.Module {
	t.Helper()
	m, err := ast.ParseModuleWithOpts(file, src, ast.ParserOptions{RegoVersion: ast.RegoV0})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
