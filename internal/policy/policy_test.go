package policy

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	shipped "github.com/harden-dev/harden/policy"
)

// The Rego unit tests shipped in policy/ run here, so CI runs them
// without the opa binary.
func TestShippedRegoTests(t *testing.T) {
	mods := map[string]*ast.Module{}
	err := fs.WalkDir(shipped.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(shipped.FS, p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(p, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		mods[p] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := tester.NewRunner().SetModules(mods).Run(context.Background(), mods)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		if r.Fail || r.Error != nil {
			t.Errorf("%s: fail=%v err=%v", r.Name, r.Fail, r.Error)
		}
	}
	if n < 15 {
		t.Fatalf("only %d Rego tests ran", n)
	}
	t.Logf("%d Rego tests passed", n)
}

func loadInput(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/input-pass.json")
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestEvaluate(t *testing.T) {
	ctx := context.Background()
	e, err := Load(ctx, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	in := loadInput(t)
	d, err := e.Evaluate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Deny) != 0 {
		t.Fatalf("the passing input is denied: %v", d.Deny)
	}
	plats := in["image"].(map[string]any)["platforms"].([]any)
	plats[0].(map[string]any)["config"].(map[string]any)["user"] = "0"
	in["signatures"] = []any{}
	d, err = e.Evaluate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(d.Deny, "\n")
	for _, want := range []string{"runs as root", "the index", "platform manifest"} {
		if !strings.Contains(joined, want) {
			t.Errorf("deny lacks %q:\n%s", want, joined)
		}
	}
	d2, _ := e.Evaluate(ctx, in)
	if strings.Join(d2.Deny, "\n") != joined {
		t.Error("deny messages are not in a stable order")
	}
}

func TestLoadUserPolicies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "extra.rego"), []byte(`package harden

deny contains "no images from example.com" if startswith(input.image.repository, "example.com/")
`), 0o644)
	os.WriteFile(filepath.Join(dir, "extra_test.rego"), []byte("this is not rego and is skipped"), 0o644)
	e, err := Load(ctx, []string{dir}, true)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Evaluate(ctx, map[string]any{"image": map[string]any{"repository": "example.com/app"}})
	if err != nil || len(d.Deny) != 1 || d.Deny[0] != "no images from example.com" {
		t.Fatalf("%v %v", d, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.rego")
	os.WriteFile(bad, []byte("package harden\n\ndeny contains msg if {\n  msg := \n}\n"), 0o644)
	if _, err := Load(ctx, []string{bad}, true); err == nil || !strings.Contains(err.Error(), "bad.rego:") {
		t.Fatalf("syntax error should name file:line: %v", err)
	}
	if _, err := Load(ctx, []string{t.TempDir()}, true); err == nil || !strings.Contains(err.Error(), "no .rego files") {
		t.Fatalf("empty dir: %v", err)
	}
	conflict := filepath.Join(t.TempDir(), "conflict.rego")
	os.WriteFile(conflict, []byte("package harden\n\nx := 1 if true\nx := 2 if true\ndeny contains \"x\" if x == 1\n"), 0o644)
	e, err = Load(ctx, []string{conflict}, true)
	if err == nil {
		if _, err = e.Evaluate(ctx, map[string]any{}); err == nil {
			t.Fatal("a conflicting policy evaluated without error")
		}
	}
}
