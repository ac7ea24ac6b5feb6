// Package policy evaluates Rego policies (OPA v1) over the verify input
// document. Policies are `package harden` modules with `deny contains
// msg if …` and `warn contains msg if …` rules; all modules merge.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/harden-dev/harden/internal/errs"
	shipped "github.com/harden-dev/harden/policy"
)

// Decision is what the policies concluded.
type Decision struct {
	Deny []string `json:"deny"`
	Warn []string `json:"warn"`
}

// Engine holds compiled policies.
type Engine struct {
	deny, warn rego.PreparedEvalQuery
	Modules    []string `json:"modules"`
	// Sums are the sha256 (hex) of each module's source, by name.
	Sums map[string]string `json:"sums"`
}

// Load compiles the shipped default policy (unless noDefault) and the
// .rego files at paths (files or directories; *_test.rego are skipped).
func Load(ctx context.Context, paths []string, noDefault bool) (*Engine, error) {
	mods := map[string]string{}
	if !noDefault {
		err := fs.WalkDir(shipped.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !isPolicy(p) {
				return err
			}
			b, err := fs.ReadFile(shipped.FS, p)
			mods["harden:policy/"+p] = string(b)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read the shipped policy: %w", err)
		}
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("--policy %s: %w", root, err))
		}
		if !st.IsDir() {
			b, err := os.ReadFile(root)
			if err != nil {
				return nil, errs.Input(fmt.Errorf("--policy %s: %w", root, err))
			}
			mods[root] = string(b)
			continue
		}
		n := 0
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !isPolicy(p) {
				return err
			}
			b, err := os.ReadFile(p)
			mods[p] = string(b)
			n++
			return err
		})
		if err != nil {
			return nil, errs.Input(fmt.Errorf("--policy %s: %w", root, err))
		}
		if n == 0 {
			return nil, errs.Input(fmt.Errorf("--policy %s holds no .rego files", root))
		}
	}
	e := &Engine{Sums: map[string]string{}}
	opts := []func(*rego.Rego){}
	for name, src := range mods {
		if _, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1}); err != nil {
			return nil, errs.Input(fmt.Errorf("policy %w; fix the Rego (OPA v1 syntax)", err))
		}
		opts = append(opts, rego.Module(name, src))
		e.Modules = append(e.Modules, name)
		sum := sha256.Sum256([]byte(src))
		e.Sums[name] = hex.EncodeToString(sum[:])
	}
	sort.Strings(e.Modules)
	var err error
	if e.deny, err = rego.New(append(opts, rego.Query("data.harden.deny"))...).PrepareForEval(ctx); err != nil {
		return nil, errs.Input(fmt.Errorf("compile policies: %w", err))
	}
	if e.warn, err = rego.New(append(opts, rego.Query("data.harden.warn"))...).PrepareForEval(ctx); err != nil {
		return nil, errs.Input(fmt.Errorf("compile policies: %w", err))
	}
	return e, nil
}

func isPolicy(p string) bool {
	return strings.HasSuffix(p, ".rego") && !strings.HasSuffix(p, "_test.rego")
}

// Evaluate runs the policies over input. An evaluation error (a conflict,
// a failing builtin) is an error, never a pass.
func (e *Engine) Evaluate(ctx context.Context, input any) (*Decision, error) {
	d := &Decision{Deny: []string{}, Warn: []string{}}
	var err error
	if d.Deny, err = messages(ctx, e.deny, input); err != nil {
		return nil, fmt.Errorf("evaluate deny rules: %w", err)
	}
	if d.Warn, err = messages(ctx, e.warn, input); err != nil {
		return nil, fmt.Errorf("evaluate warn rules: %w", err)
	}
	return d, nil
}

func messages(ctx context.Context, q rego.PreparedEvalQuery, input any) ([]string, error) {
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, r := range rs {
		for _, ex := range r.Expressions {
			vals, ok := ex.Value.([]any)
			if !ok {
				return nil, fmt.Errorf("policy rules must build sets of messages, got %T", ex.Value)
			}
			for _, v := range vals {
				switch m := v.(type) {
				case string:
					out = append(out, m)
				case map[string]any:
					out = append(out, fmt.Sprint(m["msg"]))
				default:
					out = append(out, fmt.Sprint(m))
				}
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
