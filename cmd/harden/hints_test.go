package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/scan/vulndb"
)

// runRoot runs the real command tree in process and returns the exit
// code, what it wrote and the error text.
func runRoot(t *testing.T, args ...string) (code int, stdout, stderr, msg string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	if err != nil {
		msg = err.Error()
	}
	return errs.ExitCode(err), out.String(), errOut.String(), msg
}

// externalFlags are the flags of other programs that harden's messages
// name (in a command they suggest) or its code passes on a command line,
// by program. Anything else spelled --x must be a flag of harden.
func externalFlags() map[string][]string {
	return map[string][]string{
		// kubectl run, as release.json's deploy hint writes it.
		"kubectl": {"rm", "restart", "image", "env"},
		// docker and podman run, for smoke tests (internal/smoke).
		"docker": {"rm", "network", "read-only", "tmpfs", "cap-drop", "security-opt", "user", "workdir", "entrypoint", "ulimit", "env", "init", "pull", "interactive"},
		"runc":   {"root", "force"},
		"git":    {"get", "porcelain", "untracked-files", "show-toplevel", "quiet", "verify", "format"},
		// Options of pip's requirements files, which the lock parser
		// reads (internal/lock).
		"pip": {"hash", "index-url", "extra-index-url", "only-binary", "no-binary", "prefer-binary", "pre", "require-hashes",
			"requirement", "constraint", "editable", "find-links", "no-index", "trusted-host"},
		// Dockerfile instruction flags: FROM --platform, COPY --from,
		// RUN --mount (internal/pin).
		"dockerfile": {"platform", "from", "mount"},
		// cosign, crane and slsa-verifier commands in hints and docs.
		"cosign":        {"key", "certificate-identity", "certificate-identity-regexp", "certificate-oidc-issuer", "type", "trusted-root", "insecure-ignore-tlog", "new-bundle-format", "bundle"},
		"crane":         {"platform"},
		"slsa-verifier": {"vsa-path", "subject-digest", "verifier-id", "resource-uri", "verified-level", "public-key-path", "public-key-id"},
		// The image's own program in examples (pgcli --version, and the
		// arguments after "--" of a kubectl run).
		"app": {"version", "help", "host", "port", "username"},
		// brew --prefix, in cobra's completion help.
		"brew": {"prefix"},
	}
}

// appArgs are flags of the image's own program that a harden command's
// text names where no program is written before them.
func appArgs() map[string][]string {
	return map[string][]string{
		// "test.defaultArgs (default --version)": the program's argument.
		"harden test": {"version"},
	}
}

// hintRef is one flag a message names, and the program (and, for
// harden, the command) it belongs to.
type hintRef struct {
	tool string   // "" for the command that printed the message
	cmd  []string // with tool "harden": the words naming the command
	flag string   // without dashes
}

var (
	flagRE = regexp.MustCompile(`(?:^|[^\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`)
	// --identity-token(-file), --certificate-identity[-regexp]: both flags.
	suffixRE = regexp.MustCompile(`--([a-z][a-z0-9-]*)[(\[](-[a-z][a-z0-9-]*)[)\]]`)
	// harden.yaml fields: "scan.vex", "signer.github.repo", "smoke[0].name",
	// and "base: in harden.yaml".
	dottedRE     = regexp.MustCompile(`(?:^|[^\w./-])([a-z][A-Za-z0-9]*(?:\[\d+\])?(?:\.[a-z][A-Za-z0-9]*(?:\[\d+\])?)+)`)
	subcommandRE = regexp.MustCompile(`^[a-z][a-z-]*$`)
	colonRE      = regexp.MustCompile(`(?:^|[^\w./-])([a-z][A-Za-z0-9]*(?:\.[a-z][A-Za-z0-9]*)*): (?:in|of|from) harden\.yaml`)
)

// toolNames are the programs whose commands messages suggest.
var toolNames = []string{"harden", "cosign", "crane", "kubectl", "docker", "podman", "slsa-verifier", "git", "pip", "brew"}

// hintRefs finds the flags text names. A flag belongs to the command
// named before it in the same clause ("… harden verify --offline …", a
// clause ending at ; , ( ) or a line end), else to the command that
// printed the message.
func hintRefs(root, from *cobra.Command, text string) []hintRef {
	var refs []hintRef
	for _, line := range strings.Split(text, "\n") {
		var base hintRef // what a new clause of this line speaks of
		words := strings.Fields(line)
		// A line of a help's command list ("  sign-blob   Sign … --key")
		// speaks of that subcommand.
		if len(words) > 1 && strings.HasPrefix(line, "  "+words[0]+"  ") {
			if sub := findSub(from, words[0]); sub != nil {
				base = hintRef{tool: "harden", cmd: append(strings.Fields(from.CommandPath())[1:], sub.Name())}
			}
		}
		cur := base
		for i := 0; i < len(words); i++ {
			w := words[i]
			if strings.HasPrefix(w, "(") {
				cur = base
			}
			bare := strings.Trim(w, "\"'`()[]<>,.;:$")
			if slices.Contains(toolNames, bare) && bare == strings.TrimLeft(w, "\"'`($") {
				next := ""
				if i+1 < len(words) {
					next = words[i+1]
				}
				if bare == "harden" {
					c, path := root, []string{}
					for i+1 < len(words) {
						sub := findSub(c, strings.Trim(words[i+1], "\"'`()[],.;:"))
						if sub == nil {
							break
						}
						c, path = sub, append(path, sub.Name())
						i++
					}
					// "what harden attests" is prose, not a command.
					if len(path) > 0 || strings.HasPrefix(next, "-") {
						cur = hintRef{tool: "harden", cmd: path}
					}
				} else if next != "" && (strings.HasPrefix(next, "-") || subcommandRE.MatchString(next)) {
					cur = hintRef{tool: bare}
					if bare == "podman" {
						cur.tool = "docker"
					}
				}
				if last := words[i]; strings.ContainsAny(last[len(last)-1:], ",;).:") {
					cur = base // "… harden verify, or drop --from-vsa"
				}
				continue
			}
			if w == "--" && cur.tool == "kubectl" {
				cur = hintRef{tool: "app"} // kubectl run … -- ARGS: the image's own
				continue
			}
			flags := map[string]bool{}
			for _, m := range flagRE.FindAllStringSubmatch(w, -1) {
				flags[m[1]] = true
			}
			for _, m := range suffixRE.FindAllStringSubmatch(w, -1) {
				flags[m[1]+m[2]] = true
			}
			for f := range flags {
				r := cur
				r.flag = f
				refs = append(refs, r)
			}
			if strings.HasSuffix(w, ",") || strings.HasSuffix(w, ";") || strings.HasSuffix(w, ")") || strings.HasSuffix(w, ".") ||
				(strings.HasSuffix(w, ":") && !strings.HasPrefix(w, "-")) {
				cur = base
			}
		}
	}
	return refs
}

func findSub(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name || s.HasAlias(name) {
			return s
		}
	}
	return nil
}

// hasFlag reports whether c takes --name (its own, inherited, or
// cobra's --help and the root's --version).
func hasFlag(c *cobra.Command, name string) bool {
	if name == "help" || (name == "version" && !c.HasParent()) {
		return true
	}
	return c.Flags().Lookup(name) != nil || c.InheritedFlags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil
}

// fileExts end names that look like field paths but are files or hosts.
var fileExts = []string{"json", "yaml", "yml", "md", "in", "lock", "rego", "pub", "key", "txt", "db", "gz", "zst", "xz", "tar", "sh", "io", "dev", "com", "org", "test", "example", "sig", "att", "whl", "go", "pem"}

// fieldRefs finds the harden.yaml field paths text names: "x: in
// harden.yaml", and dotted paths from a top-level field ("scan.vex") in a
// text that speaks of harden.yaml (elsewhere "base.digest" may be a
// field of the build record).
func fieldRefs(text string) []string {
	top := configFields(reflect.TypeOf(config.Config{}))
	var out []string
	if !strings.Contains(text, "harden.yaml") {
		return nil
	}
	for _, m := range dottedRE.FindAllStringSubmatch(text, -1) {
		p := m[1]
		segs := strings.Split(regexp.MustCompile(`\[\d+\]`).ReplaceAllString(p, ""), ".")
		if _, ok := top[segs[0]]; !ok || slices.Contains(fileExts, segs[len(segs)-1]) {
			continue
		}
		out = append(out, p)
	}
	for _, m := range colonRE.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// configFields maps the yaml names of t's fields to their types.
func configFields(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	out := map[string]reflect.Type{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// fieldExists walks config.Config by yaml names: "scan.vex",
// "smoke[0].expect.exitCode"; a map field takes any key below it.
func fieldExists(path string) bool {
	t := reflect.TypeOf(config.Config{})
	unmarshaler := reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	for _, seg := range strings.Split(regexp.MustCompile(`\[\d+\]`).ReplaceAllString(path, ""), ".") {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() == reflect.Map {
			return true
		}
		if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshaler) {
			return false // a leaf (string, Duration, Size) has no fields
		}
		ft, ok := configFields(t)[seg]
		if !ok {
			return false
		}
		t = ft
	}
	return true
}

// checkMessage returns what text names that does not exist; from is
// the command that printed it.
func checkMessage(root, from *cobra.Command, text string) []string {
	var bad []string
	ext := externalFlags()
	// A flag error repeats the flag the user typed.
	text = regexp.MustCompile(`unknown flag: --\S+`).ReplaceAllString(text, "")
	for _, r := range hintRefs(root, from, text) {
		switch r.tool {
		case "":
			if !hasFlag(from, r.flag) && !slices.Contains(appArgs()[from.CommandPath()], r.flag) {
				bad = append(bad, "--"+r.flag+" (no such flag on "+from.CommandPath()+")")
			}
		case "harden":
			c := root
			for _, w := range r.cmd {
				c = findSub(c, w)
			}
			if !hasFlag(c, r.flag) {
				bad = append(bad, "--"+r.flag+" (no such flag on "+c.CommandPath()+")")
			}
		default:
			if !slices.Contains(ext[r.tool], r.flag) {
				bad = append(bad, "--"+r.flag+" (not a known flag of "+r.tool+"; add it to externalFlags if it is one)")
			}
		}
	}
	for _, f := range fieldRefs(text) {
		if !fieldExists(f) {
			bad = append(bad, f+" (no such field in harden.yaml)")
		}
	}
	slices.Sort(bad)
	return slices.Compact(bad)
}

// hintConfig writes a valid harden.yaml, and beside it a lock, for the
// commands of the error table; extra is appended to harden.yaml.
func hintConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	cfg := filepath.Join(dir, "harden.yaml")
	doc := "name: app\nversion: 1.0.0-r1\nrepository: 127.0.0.1:1/app\nbase: 127.0.0.1:1/python:3.12@sha256:" + strings.Repeat("a", 64) +
		"\nsigner: {issuer: https://issuer.example, identity: release@example.com}\n" + extra
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "requirements.in"), []byte("other==1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lock := "other==1.0 \\\n    --hash=sha256:" + strings.Repeat("b", 64) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "requirements.lock"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestHintsNameWhatExists collects what harden tells its users (every
// command's --help, and the errors of a table of bad inputs) and checks
// that each flag it names is a flag of the command it names (or of the
// command that printed it), and each harden.yaml field exists.
func TestHintsNameWhatExists(t *testing.T) {
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	type message struct {
		from *cobra.Command
		what string
		text string
	}
	var msgs []message
	walk(root, func(c *cobra.Command) {
		if c.Name() == cobra.ShellCompRequestCmd || c.Name() == cobra.ShellCompNoDescRequestCmd {
			return
		}
		args := append(strings.Fields(c.CommandPath())[1:], "--help")
		code, out, _, msg := runRoot(t, args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s: exit %d, %q", strings.Join(args, " "), code, msg)
		}
		msgs = append(msgs, message{c, strings.Join(args, " "), out})
	})

	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	cfg := hintConfig(t, dir, "")
	cfgDB := hintConfig(t, t.TempDir(), "scan: {db: "+missing+", maxDBAge: 1h}\n")
	cfgBad := hintConfig(t, t.TempDir(), "scan: {failOn: severe, vex: [a.json]}\n")
	cfgUnknown := hintConfig(t, t.TempDir(), "vex: [a.json]\n")
	// A vulnerability database, a stale one, and an SBOM with a fixable
	// high finding, for the scan gate's and the database's hints.
	freshDB, staleDB := t.TempDir(), t.TempDir()
	if err := vulndb.Write(freshDB, vulndb.Fixture(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := vulndb.Write(staleDB, vulndb.Fixture(), time.Now().Add(-30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	sbomFile := filepath.Join(dir, "app.cdx.json")
	if err := os.WriteFile(sbomFile, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
"components":[{"type":"library","name":"sqlparse","version":"0.4.2","purl":"pkg:pypi/sqlparse@0.4.2"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgStale := hintConfig(t, t.TempDir(), "scan: {db: "+staleDB+", maxDBAge: 1h}\n")
	tag := "127.0.0.1:1/app:1.0" // nothing listens on port 1: a tag cannot be resolved
	identity := []string{"--certificate-identity", "release@example.com", "--certificate-oidc-issuer", "https://issuer.example"}
	cases := [][]string{
		// Tags where a digest is needed.
		append([]string{"verify", tag, "--offline", "--trusted-root", missing}, identity...),
		append([]string{"rebuild", tag, "--wheel-dir", dir}, identity...),
		{"scan", tag},
		{"export", tag, "--out", missing},
		{"copy", tag, "127.0.0.1:1/dst"},
		// Missing files.
		{"scan", "--sbom", missing, "--db", missing},
		{"scan", "--sbom", missing, "--config", cfgDB},
		{"scan", "--sbom", sbomFile, "--db", freshDB},
		{"scan", "--sbom", sbomFile, "--db", staleDB},
		{"scan", "--sbom", sbomFile, "--config", cfgStale},
		// The preflight reports every check: the database (scan.db), the
		// signer (--key) and push access (nothing listens on port 1).
		{"release", "--config", cfgDB, "--out", filepath.Join(dir, "dist"), "--key", missing, "--progress", "plain"},
		{"policy", "generate", "--engine", "kyverno", "--config", missing},
		{"verify", "--layout", missing, "--key", missing},
		{"lint", missing},
		{"lock", "diff", missing, missing},
		{"build", "--config", missing},
		{"bump", "--offline", "--config", cfg},
		{"bump", "--offline", "--config", cfg, "--app", "absent"},
		{"sign", "--config", cfg, "--out", missing},
		{"keygen", "--output-key-prefix", filepath.Join(dir, "key")}, // key.key exists
		// Unknown values.
		{"test", "--runtime", "lxc", "--config", cfg},
		{"scan", "--fail-on", "severe"},
		{"scan", "--fail-on", "none"},
		{"release", "--progress", "fast", "--config", cfg},
		{"release", "--release", missing, "--config", cfg},
		{"release", "--record", missing, "--config", cfg},
		{"attest", "--type", "spdx", "--config", cfg},
		{"attest", "--type", "sbom", "--config", cfg},
		{"sign", "--storage", "oci", "--config", cfg},
		{"sbom", "--format", "xml", "--config", cfg},
		{"policy", "generate", "--engine", "opa", "--config", cfg},
		{"policy", "generate", "--config", cfg},
		{"policy", "generate", "--engine", "kyverno", "--format", "oci", "--config", cfg},
		{"policy", "generate", "--engine", "gatekeeper", "--ratify", "--config", cfg, "--from-vsa"},
		{"policy", "generate", "--engine", "kyverno", "--config", cfg, "--key", missing},
		{"policy", "generate", "--engine", "kyverno", "--config", cfg, "--from-vsa"},
		{"policy", "generate", "--engine", "kyverno", "--config", cfg, "--from-vsa", "--key", missing, "--max-scan-age", "1h"},
		{"verify", "--layout", missing, "--key", missing, "--max-severity", "severe"},
		{"verify", "--layout", missing, "--key", missing, "--require-level", "9"},
		{"verify", "--layout", missing, "--key", missing, "--storage", "oci"},
		{"verify", "--layout", missing, "--key", missing, "--include-unfixed"},
		{"verify", "--layout", missing, "--attest-vsa", "--key", missing},
		{"-o", "yaml", "build"},
		{"-o", "sarif", "verify"},
		{"lock", "--check", "--dry-run", "--config", cfg},
		{"lock", "diff", "--git", "main", missing, missing},
		{"copy", "127.0.0.1:1/a@sha256:" + strings.Repeat("a", 64)},
		// Config files with a bad or unknown field.
		{"build", "--config", cfgBad},
		{"build", "--config", cfgUnknown},
		{"scan", "--sbom", missing, "--config", cfgBad},
		// Mistyped commands and flags.
		{"buidl"},
		{"policy", "genrate"},
		{"lock", "dif"},
		{"scan", "--fail-onn", "high"},
		{"policy", "generate", "--out-file", "x"},
	}
	if err := os.WriteFile(filepath.Join(dir, "key.key"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COSIGN_PASSWORD", "")
	for _, a := range cases {
		code, _, stderr, msg := runRoot(t, a...)
		if code == 0 {
			t.Errorf("harden %s: exit 0; the table wants an error", strings.Join(a, " "))
			continue
		}
		c, _, err := root.Find(a)
		if err != nil || c == root && len(a) > 0 && !strings.HasPrefix(a[0], "-") && findSub(root, a[0]) == nil {
			c = root
		}
		msgs = append(msgs, message{c, "harden " + strings.Join(a, " "), msg + "\n" + stderr})
	}

	for _, m := range msgs {
		for _, b := range checkMessage(root, m.from, m.text) {
			t.Errorf("%s names %s:\n%s", m.what, b, m.text)
		}
	}
	if len(msgs) < 60 {
		t.Errorf("only %d messages collected", len(msgs))
	}
}

// TestHintCheckerCatches: the checker finds each kind of wrong hint that
// harden once gave, and passes the right ones.
func TestHintCheckerCatches(t *testing.T) {
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	release := findSub(root, "release")
	scanCmd := findSub(root, "scan")
	verify := findSub(root, "verify")
	for _, c := range []struct {
		from *cobra.Command
		text string
		bad  []string
	}{
		{release, "the database is older than 5 days; pass --max-db-age 10d",
			[]string{"--max-db-age (no such flag on harden release)"}},
		{release, "download the vulnerability database: no route; for air-gapped use pass --db with a grype v6 database archive", nil},
		{scanCmd, "for air-gapped use pass --db with a grype v6 database archive", nil},
		{release, "upgrade the packages, or record why they do not apply in an OpenVEX document (vex: in harden.yaml)",
			[]string{"vex (no such field in harden.yaml)"}},
		{release, "record why they do not apply (scan.vex in harden.yaml); raise scan.maxDBAge or set signer.github.repo", nil},
		{release, "harden.yaml:9: smoke[0].expect.exitCode: 300 is not an exit code; env.HOME and labels.a.b are maps", nil},
		{release, "harden.yaml:9: smoke[0].expect.code: 300 is not an exit code", []string{"smoke[0].expect.code (no such field in harden.yaml)"}},
		{release, "the build record has no base.ref", nil},
		{release, "set scan.vexes in harden.yaml", []string{"scan.vexes (no such field in harden.yaml)"}},
		{release, "name the app whose version the image carries with --app", []string{"--app (no such flag on harden release)"}},
		{release, "run harden bump --app NAME --write, then harden release without --version-tag", nil},
		{verify, "It currently points to sha256:ab; run:\n  harden verify r@sha256:ab", nil},
		{verify, "run harden rebuild r@sha256:ab --offline --progress plain", []string{"--progress (no such flag on harden rebuild)"}},
		{verify, "harden verify --layout DIR --offline --trusted-root FILE. Also --identity-token(-file)",
			[]string{"--identity-token (no such flag on harden verify)", "--identity-token-file (no such flag on harden verify)"}},
		{verify, "check with cosign verify --key cosign.pub --rekor-url x", []string{"--rekor-url (not a known flag of cosign; add it to externalFlags if it is one)"}},
		{verify, "kubectl run app --rm --image=r@sha256:ab -- --host db", nil},
		{verify, "see harden --config x, or harden.yaml, build.json and requirements.in", nil},
		{scanCmd, "--out keeps the reports for harden attest --type vuln; it does not apply to --sbom", nil},
	} {
		got := checkMessage(root, c.from, c.text)
		slices.Sort(got)
		slices.Sort(c.bad)
		if !slices.Equal(got, c.bad) {
			t.Errorf("%q from %s:\ngot  %q\nwant %q", c.text, c.from.CommandPath(), got, c.bad)
		}
	}
}

// TestStringLiteralFlags reads every string literal of the packages in
// the harden binary: each --flag in one is a flag of some harden command
// or a known flag of another program (externalFlags), and each
// "field: in harden.yaml" or harden.yaml field path exists.
func TestStringLiteralFlags(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the binary's packages")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-json=ImportPath,Dir,GoFiles,Module", ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	known := map[string]bool{"help": true, "version": true}
	walk(root, func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
	})
	for _, flags := range externalFlags() {
		for _, f := range flags {
			known[f] = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	files := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Dir        string
			GoFiles    []string
			Module     *struct{ Path string }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != "github.com/harden-dev/harden" {
			continue
		}
		for _, name := range p.GoFiles {
			path := filepath.Join(p.Dir, name)
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files++
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				where := fset.Position(lit.Pos()).String()
				for _, m := range flagRE.FindAllStringSubmatch(s, -1) {
					if !known[m[1]] {
						t.Errorf("%s: --%s is no flag of any harden command nor in externalFlags: %q", where, m[1], s)
					}
				}
				for _, fp := range fieldRefs(s) {
					if !fieldExists(fp) {
						t.Errorf("%s: %s is no field of harden.yaml: %q", where, fp, s)
					}
				}
				return true
			})
		}
	}
	if files < 50 {
		t.Errorf("read only %d files", files)
	}
}
