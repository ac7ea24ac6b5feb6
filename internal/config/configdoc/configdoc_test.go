package configdoc

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/harden-dev/harden/internal/config"
)

const (
	configDir = ".."
	repoRoot  = "../../.."
	digest    = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	minimal   = "name: app\nversion: 1.0.0-r1\nrepository: ghcr.io/example/app\nbase: python:3.12-slim@" + digest + "\n"
)

// TestGeneratedFilesUpToDate regenerates the reference and the schema and
// compares them with the files in docs/.
func TestGeneratedFilesUpToDate(t *testing.T) {
	ref, schema, err := Generate(configDir)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{ReferenceFile: ref, SchemaFile: schema} {
		got, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Fatalf("%v; run go generate ./internal/config", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the config types generate; run go generate ./internal/config", path)
		}
	}
}

func loadModel(t *testing.T) *Model {
	t.Helper()
	m, err := Load(configDir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestModel pins what the generator learns from the code: the required
// fields, the defaults and the "not empty" rules come from the loader.
func TestModel(t *testing.T) {
	m := loadModel(t)
	var required []string
	m.Walk(func(f *Field) {
		if f.Required {
			required = append(required, f.Path)
		}
		if typeName(f.Type) == "" || f.Key == "" {
			t.Errorf("%s: no type or key", f.Path)
		}
	})
	if want := []string{"name", "version", "repository", "base", "smoke[].name", "smoke[].expect"}; !slices.Equal(required, want) {
		t.Errorf("required %v, want %v", required, want)
	}
	defaults := map[string]string{
		"platforms": "[linux/amd64]", "requirements": "requirements.in", "index.url": config.DefaultIndexURL,
		"user.uid": "10001", "user.name": "<name>", "user.home": "/home/<name>", "smoke[].timeout": "60s",
		"storage": "both", "scan.failOn": "high", "scan.maxDBAge": "120h", "build.wheelLayerThreshold": "64MiB",
		"build.maxWheelLayers": "16", "build.maxInstalledSize": "64GiB",
		"name": "", "cmd": "", "smoke[].expect.exitCode": "",
	}
	for path, want := range defaults {
		f := m.Lookup(path)
		if f == nil {
			t.Errorf("no field %s", path)
			continue
		}
		if f.Default != want {
			t.Errorf("%s: default %q, want %q", path, f.Default, want)
		}
	}
	if !m.Lookup("user.home").Derived || m.Lookup("user.uid").Derived {
		t.Error("user.home follows name:, user.uid does not")
	}
	for path, want := range map[string]bool{"platforms": true, "requirements": true, "user.name": true, "smoke[].expect": true, "cmd": false, "source.url": false} {
		if got := m.Lookup(path).NotEmpty; got != want {
			t.Errorf("%s: NotEmpty %v, want %v", path, got, want)
		}
	}
	if !m.Lookup("smoke[].entrypoint").ItemsNotEmpty || m.Lookup("smoke[].args").ItemsNotEmpty {
		t.Error("an empty smoke entrypoint item is refused, an empty argument is not")
	}
	if f := m.Lookup("scan.failOn"); !strings.HasPrefix(f.Doc, "failOn is the lowest severity") || !strings.Contains(f.Doc, "unless includeUnfixed") {
		t.Errorf("scan.failOn doc %q does not speak of YAML keys", f.Doc)
	}
}

func compiled(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestShippedExamplesValidate: every example harden ships validates
// against the schema.
func TestShippedExamplesValidate(t *testing.T) {
	s := compiled(t)
	files := []string{filepath.Join(repoRoot, "image/harden.yaml"), filepath.Join(repoRoot, "scripts/demo.harden.yaml")}
	valid := 0
	testdata, _ := filepath.Glob(filepath.Join(configDir, "testdata", "*.yaml"))
	for _, f := range testdata {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := config.Parse(data, f); err == nil {
			files = append(files, f)
			valid++
		}
	}
	if valid < 3 {
		t.Errorf("%d valid examples in testdata, want full.yaml, minimal.yaml and pgcli.yaml", valid)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// scripts/demo.sh fills these in.
		data = []byte(strings.NewReplacer("@BASE@", "127.0.0.1:5000/library/python@"+digest, "@REGISTRY@", "127.0.0.1:5000",
			"@FIXTURES@", "/fixtures", "@VULNDB@", "/vulndb").Replace(string(data)))
		if _, err := config.Parse(data, f); err != nil {
			t.Errorf("%s: the loader refuses it: %v", f, err)
		}
		if err := ValidateYAML(s, data); err != nil {
			t.Errorf("%s does not validate against %s:\n%v", f, SchemaFile, err)
		}
	}
}

// TestSchemaAgreesWithLoader edits a valid document and wants the schema
// and config.Parse to give the same verdict on each edit.
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := compiled(t)
	smoke := func(test string) string { return minimal + "smoke:\n  - " + test + "\n" }
	cases := []struct {
		name, doc string
		valid     bool
	}{
		{"minimal", minimal, true},
		{"unknown top-level field", minimal + "nmae: x\n", false},
		{"unknown nested field", minimal + "user: {uid: 10001, shell: /bin/sh}\n", false},
		{"unknown smoke field", smoke("{name: t, expect: {exitCode: 0}, retries: 2}"), false},
		{"missing name", strings.Replace(minimal, "name: app\n", "", 1), false},
		{"missing base", strings.Replace(minimal, "base:", "# base:", 1), false},
		{"base without digest", strings.Replace(minimal, "@"+digest, "", 1), false},
		{"empty version", strings.Replace(minimal, "1.0.0-r1", `""`, 1), false},
		{"numeric version", strings.Replace(minimal, "1.0.0-r1", "1.0", 1), true},
		{"upper-case name", strings.Replace(minimal, "name: app", "name: App", 1), false},
		{"repository with digest", strings.Replace(minimal, "ghcr.io/example/app", "ghcr.io/example/app@"+digest, 1), false},
		{"storage referrers", minimal + "storage: referrers\n", true},
		{"storage legacy", minimal + "storage: legacy\n", true},
		{"storage both", minimal + "storage: both\n", true},
		{"storage unknown", minimal + "storage: cosign\n", false},
		{"failOn unknown", minimal + "scan: {failOn: severe}\n", false},
		{"failOn empty", minimal + "scan: {failOn: \"\"}\n", false},
		{"platform windows", minimal + "platforms: [windows/amd64]\n", false},
		{"platform arm64/v9", minimal + "platforms: [linux/arm64/v9]\n", false},
		{"platform twice", minimal + "platforms: [linux/amd64, linux/amd64]\n", false},
		{"no platforms", minimal + "platforms: []\n", false},
		{"smoke test", smoke("{name: t, args: [--help], expect: {exitCode: 0}, timeout: 1h30m}"), true},
		{"smoke test without expect", smoke("{name: t, args: [--help]}"), false},
		{"smoke test with empty expect", smoke("{name: t, expect: {}}"), false},
		{"smoke test without name", smoke("{expect: {exitCode: 0}}"), false},
		{"smoke timeout without unit", smoke("{name: t, expect: {exitCode: 0}, timeout: 30}"), false},
		{"smoke timeout not a duration", smoke("{name: t, expect: {exitCode: 0}, timeout: soon}"), false},
		{"exit code 255", smoke("{name: t, expect: {exitCode: 255}}"), true},
		{"exit code 256", smoke("{name: t, expect: {exitCode: 256}}"), false},
		{"empty entrypoint", minimal + "entrypoint: []\n", false},
		{"empty entrypoint item", minimal + "entrypoint: [app, \"\"]\n", false},
		{"uid 0", minimal + "user: {uid: 0}\n", false},
		{"uid as text", minimal + "user: {uid: \"10001\"}\n", false},
		{"uid at the limit", minimal + "user: {uid: 2147483647}\n", true},
		{"uid past the limit", minimal + "user: {uid: 2147483648}\n", false},
		{"root user", minimal + "user: {name: root}\n", false},
		{"relative home", minimal + "user: {home: home/app}\n", false},
		{"env number value", minimal + "env: {PYTHONUNBUFFERED: 1}\n", true},
		{"env bad name", minimal + "env: {1X: a}\n", false},
		{"env as list", minimal + "env: [A=1]\n", false},
		{"size with unit", minimal + "build: {maxWheelSize: 1GiB, wheelLayerThreshold: 64M, maxInstalledSize: 68719476736}\n", true},
		{"size not a size", minimal + "build: {maxWheelSize: lots}\n", false},
		{"wheel layers 64", minimal + "build: {maxWheelLayers: 64}\n", true},
		{"wheel layers 65", minimal + "build: {maxWheelLayers: 65}\n", false},
		{"index url ftp", minimal + "index: {url: ftp://example.com/simple/}\n", false},
		{"maxDBAge", minimal + "scan: {maxDBAge: 48h, includeUnfixed: true, vex: [a.json]}\n", true},
		{"signer github", minimal + "signer: {github: {repo: example/app, workflow: .github/workflows/release.yml}}\n", true},
		{"merge key", minimal + "x-defaults: &d {uid: 10001}\n", false},
		{"run", minimal + "run:\n  args: [--host, $DB_HOST]\n  env: {DB_HOST: db}\n", true},
		{"test default args empty", minimal + "test: {defaultArgs: []}\n", true},
	}
	for _, p := range platforms() {
		cases = append(cases, struct {
			name, doc string
			valid     bool
		}{"platform " + p, minimal + "platforms: [" + p + "]\n", true})
	}
	for _, sev := range []string{"negligible", "low", "medium", "high", "critical"} {
		cases = append(cases, struct {
			name, doc string
			valid     bool
		}{"failOn " + sev, minimal + "scan: {failOn: " + sev + "}\n", true})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, lerr := config.Parse([]byte(tc.doc), "harden.yaml")
			serr := ValidateYAML(s, []byte(tc.doc))
			if (lerr == nil) != tc.valid {
				t.Errorf("loader: %v, want valid=%v", lerr, tc.valid)
			}
			if (serr == nil) != tc.valid {
				t.Errorf("schema: %v, want valid=%v", serr, tc.valid)
			}
		})
	}
}

// TestRulesNameFields: a rule for a field that is gone fails generation.
func TestRulesNameFields(t *testing.T) {
	m := loadModel(t)
	if err := checkRules(m, rules); err != nil {
		t.Fatal(err)
	}
	stale := map[string]obj{"user.uid": rules["user.uid"], "no.such.field": {{"minimum", 1}}}
	if err := checkRules(m, stale); err == nil || !strings.Contains(err.Error(), `"no.such.field"`) {
		t.Errorf("checkRules with a stale rule: %v", err)
	}
}

func TestInstance(t *testing.T) {
	v, err := Instance([]byte("base: &b {a: 1, b: x}\nm:\n  <<: *b\n  b: y\nt: 2001-12-14\nf: 1.5\nn: ~\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := v.(map[string]any)
	m := got["m"].(map[string]any)
	if m["b"] != "y" || m["a"] == nil || got["t"] != "2001-12-14" || got["n"] != nil {
		t.Errorf("instance %#v", got)
	}
}
