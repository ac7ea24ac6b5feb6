package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// No entrypoint is a valid config: the build derives it. Written empty,
// it is refused with a fix naming the image.
func TestEntrypointHasNoDefault(t *testing.T) {
	c, err := Parse([]byte(minimal), "h.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Entrypoint != nil {
		t.Errorf("entrypoint defaulted to %q", c.Entrypoint)
	}
	g := &Config{Name: "tool", Version: "1", Repository: "ghcr.io/example/tool", Base: "python@" + testDigest}
	g.ApplyDefaults()
	if g.Entrypoint != nil {
		t.Errorf("ApplyDefaults set entrypoint %q", g.Entrypoint)
	}
	if err := g.Validate(); err != nil {
		t.Errorf("Go-built config without entrypoint: %v", err)
	}
	doc := strings.Replace(minimal, "name: pgcli", "name: sqlformat", 1) + "entrypoint: []\n"
	_, err = Parse([]byte(doc), "h.yaml")
	want := "h.yaml: entrypoint: empty; name the program to run, e.g. entrypoint: [sqlformat], or remove the line to use the console script of the top-level requirement"
	if err == nil || err.Error() != want {
		t.Errorf("entrypoint: []\n got %v\nwant %s", err, want)
	}
}

func TestTestDefaultArgs(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want []string
	}{
		{"", []string{"--version"}},
		{"test: {}\n", []string{"--version"}},
		{"test: {defaultArgs: ~}\n", []string{"--version"}},
		{"test: {defaultArgs: []}\n", []string{}},
		{"test: {defaultArgs: [--help]}\n", []string{"--help"}},
		{"test:\n  defaultArgs: [-c, \"print(1)\"]\n", []string{"-c", "print(1)"}},
	} {
		cfg, err := Parse([]byte(minimal+c.doc), "h.yaml")
		if err != nil {
			t.Errorf("%q: %v", c.doc, err)
			continue
		}
		got := cfg.TestArgs()
		if got == nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: TestArgs() = %#v, want %#v", c.doc, got, c.want)
		}
	}
	// TestArgs hands out a copy.
	cfg, _ := Parse([]byte(minimal+"test: {defaultArgs: [--help]}\n"), "h.yaml")
	cfg.TestArgs()[0] = "x"
	if (*cfg.Test.DefaultArgs)[0] != "--help" {
		t.Error("TestArgs returned the config's own slice")
	}
}

func TestRunAndSmokeFields(t *testing.T) {
	doc := minimal + `run:
  args: [--host, $DB_HOST, "5432"]
  env: {PGUSER: $DB_USER, LANG: C.UTF-8}
smoke:
  - name: echoes stdin
    entrypoint: [cat]
    stdin: "select 1;\n"
    env: {TERM: dumb}
    expect: {stdout: "select 1;"}
  - name: warns on stderr
    args: [--nope]
    expect: {exitCode: 2, stderr: "usage", stderrContains: "nope", stderrRegexp: '(?m)^usage'}
  - name: stderr alone is an expectation
    expect: {stderrContains: x}
`
	c, err := Parse([]byte(doc), "h.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Run{Args: []string{"--host", "$DB_HOST", "5432"}, Env: map[string]string{"PGUSER": "$DB_USER", "LANG": "C.UTF-8"}}); !reflect.DeepEqual(c.Run, want) {
		t.Errorf("run: %#v", c.Run)
	}
	want := []SmokeTest{
		{Name: "echoes stdin", Entrypoint: []string{"cat"}, Stdin: "select 1;\n", Env: map[string]string{"TERM": "dumb"}, Expect: Expect{Stdout: "select 1;"}, Timeout: Duration{DefaultSmokeTimeout}},
		{Name: "warns on stderr", Args: []string{"--nope"}, Expect: Expect{ExitCode: 2, Stderr: "usage", StderrContains: "nope", StderrRegexp: "(?m)^usage"}, Timeout: Duration{DefaultSmokeTimeout}},
		{Name: "stderr alone is an expectation", Expect: Expect{StderrContains: "x"}, Timeout: Duration{DefaultSmokeTimeout}},
	}
	if !reflect.DeepEqual(c.Smoke, want) {
		t.Errorf("smoke:\n got %#v\nwant %#v", c.Smoke, want)
	}
	// What is marshalled parses back the same.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, c.Path)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip differs:\n got %#v\nwant %#v", back, c)
	}
	// Empty sections decode as absent.
	e, err := Parse([]byte(minimal+"run: {args: [], env: {}}\nsmoke:\n  - {name: a, env: {}, expect: {exitCode: 0}}\n"), "h.yaml")
	if err != nil || e.Run.Args != nil || e.Run.Env != nil || e.Smoke[0].Env != nil {
		t.Errorf("empty run/env: %#v %#v %v", e.Run, e.Smoke, err)
	}
}

func TestRunAndSmokeValidation(t *testing.T) {
	cases := []struct {
		name, doc, field string
		contains         []string
	}{
		{"run env name", "run: {env: {1X: a}}\n", "run.env.1X", []string{`"1X" is not a valid environment variable name`}},
		{"run env line break", "run: {env: {X: \"a\\nb\"}}\n", "run.env.X", []string{"line break", "one-line kubectl run"}},
		{"run arg line break", "run: {args: [ok, \"a\\rb\"]}\n", "run.args[1]", []string{"line break", "one line"}},
		{"run args not a list", "run: {args: --help}\n", "run.args", []string{"expected a list"}},
		{"run unknown field", "run: {argz: [x]}\n", "", []string{`unknown field "argz" in run`, `did you mean "args"?`}},
		{"test unknown field", "test: {default: [x]}\n", "", []string{`unknown field "default" in test`, "defaultArgs"}},
		{"test args NUL", "test: {defaultArgs: [\"a\\0b\"]}\n", "test.defaultArgs[0]", []string{"NUL"}},
		{"smoke stderrRegexp", "smoke:\n  - {name: a, expect: {stderrRegexp: '('}}\n", "smoke[0].expect.stderrRegexp", []string{"does not compile", "RE2"}},
		{"smoke env name", "smoke:\n  - {name: a, env: {A-B: x}, expect: {exitCode: 0}}\n", "smoke[0].env.A-B", []string{"not a valid environment variable name"}},
		{"smoke stdin not a string", "smoke:\n  - {name: a, stdin: [x], expect: {exitCode: 0}}\n", "smoke[0].stdin", []string{"expected a string"}},
		{"smoke without expectation", "smoke:\n  - {name: a, stdin: x}\n", "smoke[0]", []string{"has no expectation", "stderrContains or stderrRegexp"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(minimal+c.doc), "h.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", c.doc)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Fix == "" {
				t.Errorf("not an *Error with a fix: %v", err)
			}
			if c.field != "" && !strings.Contains(err.Error(), ": "+c.field+": ") {
				t.Errorf("no field %s in: %v", c.field, err)
			}
			for _, s := range c.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q missing from: %v", s, err)
				}
			}
		})
	}
}

// The example image's run: section gives the pod its database
// connection, left to the shell to fill in.
func TestExampleImageRun(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "image", "harden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--host", "$DB_HOST", "--port", "5432", "--username", "$DB_USER", "$DB_NAME"}; !reflect.DeepEqual(c.Run.Args, want) || c.Run.Env != nil {
		t.Errorf("image/harden.yaml run: %#v", c.Run)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"pgcli"}) || len(c.Smoke) == 0 {
		t.Errorf("image/harden.yaml: entrypoint %q, %d smoke tests", c.Entrypoint, len(c.Smoke))
	}
}
