package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/harden-dev/harden/internal/admission"
	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildinfo"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/smoke"
	"github.com/harden-dev/harden/internal/verify"
	"github.com/harden-dev/harden/internal/vsa"
)

func TestUnknownCommandSuggests(t *testing.T) {
	for _, c := range []struct {
		args    []string
		word    string
		suggest []string // nil: no suggestion
		help    string
	}{
		{[]string{"buidl"}, "buidl", []string{"build"}, "harden --help"},
		{[]string{"verfy", "x"}, "verfy", []string{"verify"}, "harden --help"},
		{[]string{"frobnicate"}, "frobnicate", nil, "harden --help"},
		{[]string{"policy", "genrate"}, "genrate", []string{"generate"}, "harden policy --help"},
		{[]string{"base", "resolv", "x"}, "resolv", []string{"resolve"}, "harden base --help"},
		{[]string{"base", "udpate"}, "udpate", []string{"update"}, "harden base --help"},
		{[]string{"lock", "dif"}, "dif", []string{"diff"}, "harden lock --help"},
		{[]string{"completion", "bsh"}, "bsh", []string{"bash", "fish", "zsh"}, "harden completion --help"},
	} {
		code, _, _, msg := runRoot(t, c.args...)
		word := c.word
		if code != errs.CodeInput || !strings.Contains(msg, "unknown command "+strconv.Quote(word)) || !strings.Contains(msg, "see "+c.help) {
			t.Errorf("%q: exit %d, %q", c.args, code, msg)
		}
		want := ""
		if c.suggest != nil {
			want = "\n\nDid you mean this?\n\t" + strings.Join(c.suggest, "\n\t") + "\n\n"
		}
		if got := strings.Contains(msg, "Did you mean this?"); got != (want != "") || (want != "" && !strings.Contains(msg, want)) {
			t.Errorf("%q: %q; want suggestion %q", c.args, msg, c.suggest)
		}
	}
	// A group without a subcommand shows its help.
	if code, out, _, msg := runRoot(t, "policy"); code != 0 || !strings.Contains(out, "generate") {
		t.Errorf("harden policy: exit %d, %q %q", code, out, msg)
	}
}

func TestUnknownFlagSuggests(t *testing.T) {
	for _, c := range []struct {
		args    []string
		suggest []string
		help    string
	}{
		{[]string{"scan", "--fail-onn", "high"}, []string{"--fail-on"}, "harden scan --help"},
		{[]string{"verify", "--certificate-identiy=x"}, []string{"--certificate-identity"}, "harden verify --help"},
		{[]string{"policy", "generate", "--out-file", "x"}, []string{"--output-file"}, "harden policy generate --help"},
		{[]string{"build", "--ouptut", "json"}, []string{"--output"}, "harden build --help"}, // inherited
		{[]string{"build", "--zzz"}, nil, "harden build --help"},
	} {
		code, _, _, msg := runRoot(t, c.args...)
		if code != errs.CodeInput || !strings.HasPrefix(msg, "unknown flag: ") || !strings.HasSuffix(msg, "see "+c.help) {
			t.Errorf("%q: exit %d, %q", c.args, code, msg)
		}
		want := ""
		if c.suggest != nil {
			want = "\n\nDid you mean this?\n\t" + strings.Join(c.suggest, "\n\t") + "\n\n"
		}
		if strings.Contains(msg, "Did you mean this?") != (want != "") || !strings.Contains(msg, want) {
			t.Errorf("%q: %q; want suggestion %q", c.args, msg, c.suggest)
		}
	}
	// Other flag errors say where the usage is.
	if code, _, _, msg := runRoot(t, "scan", "--max-db-age", "soon"); code != errs.CodeInput || !strings.HasSuffix(msg, "; see harden scan --help") {
		t.Errorf("bad value: exit %d, %q", code, msg)
	}
}

// complete runs cobra's completion request through the root command and
// returns the candidates.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, _, msg := runRoot(t, append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d, %s", args, code, msg)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || lines[len(lines)-1] != ":4" { // ShellCompDirectiveNoFileComp
		t.Errorf("__complete %q: %q; want the no-file directive", args, out)
	}
	var got []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		got = append(got, v)
	}
	return got
}

func TestFlagValueCompletion(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"test", "--runtime", ""}, []string{"runc", "docker", "podman", "chroot"}},
		{[]string{"release", "--runtime", ""}, []string{"runc", "docker", "podman", "chroot"}},
		{[]string{"release", "--progress", ""}, []string{"auto", "live", "plain"}},
		{[]string{"release", "--storage", ""}, []string{"both", "referrers", "legacy"}},
		{[]string{"sign", "--storage", ""}, []string{"both", "referrers", "legacy"}},
		{[]string{"verify", "--storage", ""}, []string{"both", "referrers", "legacy"}},
		{[]string{"policy", "generate", "--engine", ""}, []string{"kyverno", "policy-controller", "gatekeeper", "ratify"}},
		{[]string{"policy", "generate", "--format", ""}, []string{"legacy", "bundle"}},
		{[]string{"policy", "generate", "--max-severity", ""}, []string{"none", "unknown", "negligible", "low", "medium", "high", "critical"}},
		{[]string{"policy", "generate", "--require-level", ""}, []string{"SLSA_BUILD_LEVEL_0", "SLSA_BUILD_LEVEL_1", "SLSA_BUILD_LEVEL_2", "SLSA_BUILD_LEVEL_3"}},
		{[]string{"verify", "--max-severity", ""}, []string{"none", "unknown", "negligible", "low", "medium", "high", "critical"}},
		{[]string{"verify", "--require-level", ""}, []string{"SLSA_BUILD_LEVEL_0", "SLSA_BUILD_LEVEL_1", "SLSA_BUILD_LEVEL_2", "SLSA_BUILD_LEVEL_3"}},
		{[]string{"rebuild", "--max-severity", ""}, []string{"none", "unknown", "negligible", "low", "medium", "high", "critical"}},
		{[]string{"scan", "--fail-on", ""}, []string{"negligible", "low", "medium", "high", "critical"}},
		{[]string{"scan", "--fail-on=h"}, []string{"negligible", "low", "medium", "high", "critical"}}, // the shell filters
		{[]string{"attest", "--type", ""}, []string{"slsaprovenance1", "spdxjson", "cyclonedx", "vuln"}},
		{[]string{"sbom", "--format", ""}, []string{"spdx-json", "cyclonedx-json"}},
		{[]string{"scan", "-o", ""}, []string{"text", "json", "sarif"}},
		{[]string{"scan", "--output", ""}, []string{"text", "json", "sarif"}},
		{[]string{"build", "-o", ""}, []string{"text", "json"}},
		{[]string{"-o", ""}, []string{"text", "json"}},
	} {
		if got := complete(t, c.args...); !slices.Equal(got, c.want) {
			t.Errorf("__complete %q = %q, want %q", c.args, got, c.want)
		}
	}
}

// TestCompletionValuesAreValid: every completion candidate passes the
// validation of its flag, and every flag with a fixed set of values, on
// every command, completes them.
func TestCompletionValuesAreValid(t *testing.T) {
	valid := map[string]func(string) error{
		"runtime":      smoke.CheckRuntime,
		"engine":       func(v string) error { return errIf(!slices.Contains(admission.Engines, v)) },
		"progress":     func(v string) error { return errIf(!slices.Contains([]string{"auto", "live", "plain"}, v)) },
		"fail-on":      func(v string) error { _, err := scan.ParseSeverity(v); return err },
		"max-severity": func(v string) error { _, err := scan.ParseMaxSeverity(v); return err },
		"storage":      func(v string) error { _, err := attach.ParseStorage(v); return err },
		"type":         func(v string) error { _, err := attest.ParseTypes([]string{v}); return err },
		"require-level": func(v string) error {
			_, err := vsa.ParseLevel(v)
			return err
		},
		"output": func(v string) error { return errIf(!slices.Contains([]string{"text", "json", "sarif"}, v)) },
		"format": func(v string) error {
			if v == admission.FormatLegacy || v == admission.FormatBundle {
				return nil
			}
			_, err := sbom.ParseFormat(v)
			return err
		},
	}
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	seen := map[string]bool{}
	walk(root, func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				check, enumerated := valid[f.Name]
				if !enumerated {
					return
				}
				if _, ok := c.GetFlagCompletionFunc(f.Name); !ok {
					t.Errorf("%s --%s completes nothing", c.CommandPath(), f.Name)
					return
				}
				vals := flagValues(c, f.Name)
				if len(vals) == 0 {
					t.Errorf("%s --%s: no values", c.CommandPath(), f.Name)
				}
				for _, v := range vals {
					if err := check(v); err != nil {
						t.Errorf("%s --%s %s: completed, but refused: %v", c.CommandPath(), f.Name, v, err)
					}
				}
				seen[f.Name] = true
			})
		}
	})
	for name := range valid {
		if !seen[name] {
			t.Errorf("no command has --%s any more; drop it from this test", name)
		}
	}
}

func errIf(b bool) error {
	if b {
		return errs.Input(os.ErrInvalid)
	}
	return nil
}

// TestRuntimeValues: the runtimes completed are those smoke accepts, in
// the order its message lists them.
func TestRuntimeValues(t *testing.T) {
	for _, r := range runtimes() {
		if err := smoke.CheckRuntime(r); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
	err := smoke.CheckRuntime("lxc")
	rs := runtimes()
	want := strings.Join(rs[:len(rs)-1], ", ") + " or " + rs[len(rs)-1]
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("smoke lists %v; completion offers %s", err, want)
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "# bash completion V2 for harden",
		"zsh":        "#compdef harden",
		"fish":       "# fish completion for harden",
		"powershell": "# powershell completion for harden",
	} {
		code, out, _, msg := runRoot(t, "completion", shell)
		if code != 0 || !strings.Contains(out, marker) || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, %s, script starts %.80q", shell, code, msg, out)
		}
	}
	if _, out, _, _ := runRoot(t, "--help"); !regexp.MustCompile(`(?m)^  completion +Generate the autocompletion script`).MatchString(out) {
		t.Errorf("harden --help does not list completion:\n%s", out)
	}
}

func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	code, _, stderr, msg := runRoot(t, "docs", "man", dir)
	if code != 0 {
		t.Fatalf("docs man: exit %d, %s", code, msg)
	}
	var want []string
	walk(newRoot(&bytes.Buffer{}, &bytes.Buffer{}), func(c *cobra.Command) {
		for p := c; p != nil; p = p.Parent() {
			if p.HasParent() && !p.IsAvailableCommand() {
				return // hidden, deprecated, help: no page
			}
		}
		want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
	})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("pages %q\nwant  %q", got, want)
	}
	for _, page := range []string{"harden.1", "harden-scan.1", "harden-policy-generate.1", "harden-completion-bash.1"} {
		if !slices.Contains(got, page) {
			t.Errorf("no %s", page)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "harden-scan.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`.TH "HARDEN-SCAN" "1" "Nov 2023"`, "harden scan IMAGE@sha256:DIGEST", `\fB--fail-on\fP`, ".SH SEE ALSO"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("harden-scan.1 lacks %q", s)
		}
	}
	if !strings.Contains(stderr, "wrote "+strconv.Itoa(len(want))+" man pages to "+dir) {
		t.Errorf("stderr %q", stderr)
	}
	for _, hidden := range []string{"harden-docs.1", "harden-conformance.1", "harden-version-next.1", "harden-help.1"} {
		if slices.Contains(got, hidden) {
			t.Errorf("%s written for a hidden command", hidden)
		}
	}
}

// TestVerifyTagKeepsFlags: verify (and rebuild) with a tag suggest the
// same command by digest with every flag the user gave.
func TestVerifyTagKeepsFlags(t *testing.T) {
	root := t.TempDir()
	tr := filepath.Join(root, "trusted root.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "127.0.0.1:1/app:1.0", "--certificate-identity", "release@example.com", "--certificate-oidc-issuer", "https://issuer.example",
			"--trusted-root", tr, "--platform", "linux/amd64", "--platform", "linux/arm64", "--offline", "-o", "json", "--max-severity", "high", "--include-unfixed"},
			"then run harden verify 127.0.0.1:1/app@sha256:… --certificate-identity release@example.com --certificate-oidc-issuer https://issuer.example --trusted-root '" + tr +
				"' --platform linux/amd64 --platform linux/arm64 --offline --output json --max-severity high --include-unfixed"},
		{[]string{"rebuild", "--github-repo", "org/app", "127.0.0.1:1/app:1.0", "--wheel-dir", root, "--policy", "a.rego", "--policy", "b.rego"},
			"then run harden rebuild 127.0.0.1:1/app@sha256:… --github-repo org/app --wheel-dir " + root + " --policy a.rego --policy b.rego"},
	} {
		code, _, _, msg := runRoot(t, c.args...)
		if code != errs.CodeInput || !strings.HasSuffix(msg, c.want) || !strings.Contains(msg, "crane digest 127.0.0.1:1/app:1.0") {
			t.Errorf("%q: exit %d\n%s\nwant it to end: %s", c.args, code, msg, c.want)
		}
	}
	// The default, for library callers, is harden verify IMAGE.
	_, err := verify.Verify(t.Context(), verify.Options{Image: "127.0.0.1:1/app:1.0", Registry: (&globals{}).registry()})
	if err == nil || !strings.HasSuffix(err.Error(), "then run harden verify 127.0.0.1:1/app@sha256:…") {
		t.Errorf("default rerun: %v", err)
	}
}

// TestDigestArgument: scan and export with a tag or a malformed reference
// say how to name the image, without go-containerregistry's parse error.
func TestDigestArgument(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "127.0.0.1:5000/app:1.0"}, "127.0.0.1:5000/app:1.0 is not named by digest; harden scan needs IMAGE@sha256:<digest>, which a tag cannot move: get the digest with harden base resolve 127.0.0.1:5000/app:1.0 (or crane digest 127.0.0.1:5000/app:1.0)"},
		{[]string{"export", "app", "--out", "x"}, "app is not named by digest; harden export needs IMAGE@sha256:<digest>, which a tag cannot move: get the digest with harden base resolve app (or crane digest app)"},
		{[]string{"export", "UPPER!!", "--out", "x"}, `"UPPER!!" is not an image reference; harden export needs IMAGE@sha256:<64 hex digits>`},
		{[]string{"scan", "app@sha256:abc"}, `"app@sha256:abc" is not an image reference; harden scan needs IMAGE@sha256:<64 hex digits>`},
	} {
		if code, _, _, msg := runRoot(t, c.args...); code != errs.CodeInput || msg != c.want {
			t.Errorf("%q: exit %d\n%s\nwant\n%s", c.args, code, msg, c.want)
		}
	}
}

func TestPolicyGenerateOutput(t *testing.T) {
	dir := t.TempDir()
	cfg := hintConfig(t, dir, "")
	// No config: exit 2, as for every command.
	if code, _, _, msg := runRoot(t, "policy", "generate", "--engine", "kyverno", "--config", filepath.Join(dir, "none.yaml")); code != errs.CodeInput || !strings.Contains(msg, "no such file") {
		t.Errorf("no config: exit %d, %s", code, msg)
	}
	// -o json: the YAML's objects as JSON, one object or a v1 List.
	for engine, kinds := range map[string][]string{
		"kyverno":    {"ClusterPolicy"},
		"gatekeeper": {"ConstraintTemplate", "HardenImageDigest"},
	} {
		code, out, _, msg := runRoot(t, "policy", "generate", "--engine", engine, "--config", cfg, "-o", "json")
		if code != 0 {
			t.Fatalf("%s -o json: exit %d, %s", engine, code, msg)
		}
		var v struct {
			Kind  string
			Items []struct{ Kind string }
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%s -o json: %v\n%s", engine, err, out)
		}
		var got []string
		if len(kinds) == 1 {
			got = []string{v.Kind}
		} else if v.Kind == "List" {
			for _, it := range v.Items {
				got = append(got, it.Kind)
			}
		}
		if !slices.Equal(got, kinds) {
			t.Errorf("%s -o json: kinds %q (kind %q), want %q", engine, got, v.Kind, kinds)
		}
	}
	// --output-file writes the file; --out still does, with a warning.
	for _, flag := range []string{"--output-file", "--out"} {
		path := filepath.Join(dir, strings.TrimLeft(flag, "-")+".yaml")
		code, out, stderr, msg := runRoot(t, "policy", "generate", "--engine", "kyverno", "--config", cfg, flag, path)
		b, err := os.ReadFile(path)
		if code != 0 || err != nil || !strings.Contains(string(b), "kind: ClusterPolicy") || out != "" {
			t.Errorf("%s: exit %d, %s, %v, stdout %q", flag, code, msg, err, out)
		}
		if deprecated := strings.Contains(stderr, "Flag --out has been deprecated, use --output-file"); deprecated != (flag == "--out") || !strings.Contains(stderr, "wrote "+path) {
			t.Errorf("%s: stderr %q", flag, stderr)
		}
	}
	if _, out, _, _ := runRoot(t, "policy", "generate", "--help"); strings.Contains(out, "--out ") {
		t.Errorf("help shows the deprecated --out:\n%s", out)
	}
}

// TestOutputFlagNames: across commands, --out is a directory, -o/--output
// the report format, and a file to write is --output-file (or a flag
// named for what the file holds). The audit: build, test, publish, sbom,
// sign, attest, release: --out DIR (dist); scan --out DIR (a release's
// output directory, for its scan/); export --out DIR (the new layout);
// lock and policy generate --output-file FILE; keygen
// --output-key-prefix; verify --policy-input FILE; the release record is
// --record FILE on publish, sign and attest.
func TestOutputFlagNames(t *testing.T) {
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	walk(root, func(c *cobra.Command) {
		if f := c.Flags().Lookup("out"); f != nil && !f.Hidden {
			if !regexp.MustCompile(`(?i)director|dist|layout`).MatchString(f.Usage) {
				t.Errorf("%s --out: %q does not name a directory", c.CommandPath(), f.Usage)
			}
		}
		if f := c.Flags().Lookup("output"); f != nil && c.HasParent() {
			t.Errorf("%s redefines --output: %q", c.CommandPath(), f.Usage)
		}
		if f := c.Flags().Lookup("output-file"); f != nil && !strings.Contains(f.Usage, "file") {
			t.Errorf("%s --output-file: %q", c.CommandPath(), f.Usage)
		}
		if f := c.Flags().Lookup("release"); f != nil && !f.Hidden {
			t.Errorf("%s --release: the release record is --record", c.CommandPath())
		}
	})
}

// TestCountedNouns: no user-facing format string in this package writes
// "%d things" or "thing(s)"; wording.Count does.
func TestCountedNouns(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`%d [a-z]+s\b|[a-z]\((s|es|ies)\)`)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && bad.MatchString(lit.Value) {
				t.Errorf("%s: %s: count with wording.Count", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
	}
}

func TestRenderCounts(t *testing.T) {
	var b bytes.Buffer
	renderVerify(&b, &verify.Report{Image: "r@sha256:ab", Checks: []verify.Check{{Name: "signature", Passed: false, Reason: "none"}}})
	if !strings.Contains(b.String(), "NOT verified: 1 check failed\n") {
		t.Errorf("renderVerify:\n%s", b.String())
	}
}

// TestDeprecationsOnStderr: a deprecated flag or command says so on
// stderr; stdout keeps only the result.
func TestDeprecationsOnStderr(t *testing.T) {
	cfg := hintConfig(t, t.TempDir(), "")
	code, stdout, stderr, msg := runRoot(t, "version", "next", "--config", cfg, "--offline")
	if code != errs.CodeInput || strings.Contains(stdout, "deprecated") || !strings.Contains(stderr, `Command "next" is deprecated, use harden bump`) {
		t.Errorf("version next: exit %d %s\nstdout %q\nstderr %q", code, msg, stdout, stderr)
	}
	// sign --release is --record, as publish names the release record.
	rec := filepath.Join(t.TempDir(), "rel.json")
	for _, flag := range []string{"--record", "--release"} {
		code, _, stderr, msg := runRoot(t, "sign", "--config", cfg, flag, rec, "--key", rec)
		if code != errs.CodeInput || !strings.Contains(msg, rec) || strings.Contains(stderr, "deprecated") != (flag == "--release") {
			t.Errorf("sign %s: exit %d, %s\nstderr %q", flag, code, msg, stderr)
		}
	}
	code, stdout, stderr, _ = runRoot(t, "policy", "generate", "--engine", "gatekeeper", "--config", cfg, "--out", "-")
	if code != 0 || !strings.HasPrefix(stdout, "# Generated by harden policy generate") || !strings.Contains(stderr, "Flag --out has been deprecated") {
		t.Errorf("policy generate --out -: exit %d\nstdout %.60q\nstderr %q", code, stdout, stderr)
	}
}

// Help names no bare docs/<page>.md: every page is a link at the ref of
// the harden that prints it.
func TestHelpLinksDocs(t *testing.T) {
	ref := buildinfo.Read("").SourceRef()
	var links int
	walk(newRoot(&bytes.Buffer{}, &bytes.Buffer{}), func(c *cobra.Command) {
		texts := []string{c.Long}
		c.Flags().VisitAll(func(f *pflag.Flag) { texts = append(texts, f.Usage) })
		for _, text := range texts {
			if m := docPage.FindString(text); m != "" {
				t.Errorf("%s: help names %q without a link", c.CommandPath(), strings.TrimSpace(m))
			}
			links += strings.Count(text, "https://github.com/harden-dev/harden/blob/"+ref+"/docs/")
		}
	})
	if links == 0 {
		t.Error("no help text links a docs page")
	}
	if got := linkDocs("see docs/vsa.md and (docs/admission.md).", buildinfo.Info{Version: "v1.2.3"}); got !=
		"see https://github.com/harden-dev/harden/blob/v1.2.3/docs/vsa.md and (https://github.com/harden-dev/harden/blob/v1.2.3/docs/admission.md)." {
		t.Errorf("linkDocs: %s", got)
	}
}
