package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const testDigest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// minimal is a valid config; cases below edit it.
const minimal = `name: pgcli
version: 4.3.0-r1
repository: ghcr.io/example/pgcli
base: python:3.12-slim-bookworm@` + testDigest + `
`

func TestLoadFull(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:         filepath.Join("testdata", "full.yaml"),
		Dir:          "testdata",
		Name:         "pgcli",
		Version:      "4.3.0-r1",
		Repository:   "ghcr.io/example/pgcli",
		Base:         "python:3.12-slim-bookworm@" + testDigest,
		Platforms:    []string{"linux/amd64", "linux/arm64", "linux/arm/v7"},
		Requirements: "requirements.in",
		Lock:         "locks/requirements.lock",
		Index:        Index{URL: "https://pypi.example/simple/"},
		Python:       Python{Interpreter: "/usr/local/bin/python3.12", SitePackages: "/usr/local/lib/python3.12/site-packages", Scripts: "/usr/local/bin"},
		User:         User{Name: "pgcli", UID: 10001, GID: 10002, Home: "/home/pgcli"},
		Entrypoint:   []string{"pgcli"},
		Cmd:          []string{"--help"},
		Env:          map[string]string{"LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"},
		WorkingDir:   "/home/pgcli",
		Labels:       map[string]string{"org.opencontainers.image.title": "pgcli", "org.opencontainers.image.licenses": "BSD-3-Clause"},
		Source:       Source{URL: "https://github.com/example/pgcli-container", Revision: "0123456789abcdef0123456789abcdef01234567"},
		Smoke: []SmokeTest{
			{Name: "pgcli --version", Args: []string{"--version"}, Expect: Expect{StdoutContains: "Version: 4.3.0"}, Timeout: Duration{30 * time.Second}},
			{Name: "runs as uid 10001", Entrypoint: []string{"id", "-u"}, Expect: Expect{Stdout: "10001"}, Timeout: Duration{time.Minute}},
			{Name: "unknown flag fails", Args: []string{"--no-such-flag"}, Expect: Expect{ExitCode: 2, StdoutRegexp: "(?m)^Usage: pgcli"}, Timeout: Duration{2 * time.Minute}},
		},
		Scan: Scan{FailOn: DefaultFailOn},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %#v\nwant %#v", c, want)
	}

	// Round trip: what we marshal parses back to the same config.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, c.Path)
	if err != nil {
		t.Fatalf("re-parse of marshalled config: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip differs:\n got %#v\nwant %#v", back, c)
	}

	if got := c.Resolve(c.Lock); got != filepath.Join("testdata", "locks", "requirements.lock") {
		t.Errorf("Resolve(lock) = %s", got)
	}
	if got := c.Resolve("/abs/requirements.in"); got != "/abs/requirements.in" {
		t.Errorf("Resolve(abs) = %s", got)
	}
	ref, err := c.BaseRef()
	if err != nil {
		t.Fatal(err)
	}
	if ref.DigestStr() != testDigest || ref.Context().Name() != "index.docker.io/library/python" {
		t.Errorf("BaseRef = %s (%s)", ref, ref.Context().Name())
	}
	repo, err := c.RepositoryRef()
	if err != nil || repo.RegistryStr() != "ghcr.io" || repo.RepositoryStr() != "example/pgcli" {
		t.Errorf("RepositoryRef = %v, %v", repo, err)
	}
}

func TestExampleConfigs(t *testing.T) {
	for _, name := range []string{"full.yaml", "minimal.yaml", "pgcli.yaml"} {
		if _, err := Load(filepath.Join("testdata", name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A local registry with a port, as the end-to-end tests use.
	local := `name: pgcli
version: 3.5.0-r1
repository: 127.0.0.1:5000/e2e/pgcli
base: 127.0.0.1:5000/library/python@` + testDigest + `
user: {name: pgcli, uid: 10001, gid: 10001, home: /home/pgcli}
smoke:
  - name: runs as uid 10001
    entrypoint: [id, -u]
    expect: {stdout: "10001"}
`
	c, err := Parse([]byte(local), "/tmp/x/harden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ref, err := c.BaseRef(); err != nil || ref.Context().RegistryStr() != "127.0.0.1:5000" {
		t.Errorf("BaseRef: %v %v", ref, err)
	}
	if c.Dir != "/tmp/x" || c.Resolve("requirements.lock") != "/tmp/x/requirements.lock" {
		t.Errorf("Dir %q", c.Dir)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal+"smoke:\n  - name: version\n    expect: {exitCode: 0}\n"), "image/harden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Platforms, []string{"linux/amd64"}) || c.Requirements != "requirements.in" || c.Lock != "requirements.lock" ||
		c.Index.URL != "https://pypi.org/simple/" || c.Entrypoint != nil ||
		c.User != (User{Name: "pgcli", UID: 10001, GID: 10001, Home: "/home/pgcli"}) ||
		c.Smoke[0].Timeout.Duration != 60*time.Second || c.Dir != "image" || c.Path != "image/harden.yaml" {
		t.Errorf("defaults: %+v", c)
	}
	// A user name without a home gets /home/<name>.
	c, err = Parse([]byte(minimal+"user: {name: app}\n"), "h.yaml")
	if err != nil || c.User.Home != "/home/app" || c.User.UID != 10001 {
		t.Errorf("user defaults: %+v %v", c.User, err)
	}
	// Null values count as absent.
	c, err = Parse([]byte(minimal+"platforms:\nuser:\nentrypoint: ~\n"), "h.yaml")
	if err != nil || len(c.Platforms) != 1 || c.User.UID != 10001 || c.Entrypoint != nil {
		t.Errorf("null fields: %+v %v", c, err)
	}
	// Go-built configs get the same defaults.
	g := &Config{Name: "pgcli", Version: "1", Repository: "ghcr.io/example/pgcli", Base: "python@" + testDigest,
		Smoke: []SmokeTest{{Name: "v", Expect: Expect{Stdout: "x"}}}}
	g.ApplyDefaults()
	if err := g.Validate(); err != nil {
		t.Errorf("Go-built config: %v", err)
	}
	if g.Smoke[0].Timeout.Duration != DefaultSmokeTimeout || g.User.Home != "/home/pgcli" {
		t.Errorf("Go-built defaults: %+v", g)
	}
}

func TestValidationErrors(t *testing.T) {
	drop := func(field string) string {
		var keep []string
		for _, l := range strings.Split(minimal, "\n") {
			if !strings.HasPrefix(l, field+":") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	set := func(field, value string) string { return drop(field) + field + ": " + value + "\n" }
	smoke := func(body string) string { return minimal + "smoke:\n" + body }
	cases := []struct {
		name, doc, field string
		contains         []string
	}{
		{"name missing", drop("name"), "name", []string{"missing", "e.g. myapp"}},
		{"name uppercase", set("name", "PgCLI"), "name", []string{`"PgCLI" is not a valid name`, "lowercase"}},
		{"version missing", drop("version"), "version", []string{"missing", "4.3.0-r1"}},
		{"version not a tag", set("version", `"4.3.0 r1"`), "version", []string{"cannot be an image tag"}},
		{"repository missing", drop("repository"), "repository", []string{"missing", "ghcr.io/example/pgcli"}},
		{"repository with tag", set("repository", "ghcr.io/example/pgcli:latest"), "repository", []string{"contains a tag", "use ghcr.io/example/pgcli"}},
		{"repository with digest", set("repository", "ghcr.io/example/pgcli@"+testDigest), "repository", []string{"contains a digest", "use ghcr.io/example/pgcli"}},
		{"repository invalid", set("repository", "ghcr.io/Example/PGCLI"), "repository", []string{"not a valid repository"}},
		{"base missing", drop("base"), "base", []string{"missing", "harden base resolve"}},
		{"base tag only", set("base", "python:3.12-slim"), "base",
			[]string{`"python:3.12-slim" has no digest; pin it by digest: run "harden base resolve python:3.12-slim" and use python:3.12-slim@sha256:<digest>`}},
		{"base short digest", set("base", "python:3.12-slim@sha256:abc"), "base", []string{"not a valid digest reference", `harden base resolve python:3.12-slim"`}},
		{"platform not linux", minimal + "platforms: [windows/amd64]\n", "platforms[0]", []string{"only linux"}},
		{"platform unknown arch", minimal + "platforms: [linux/amd64, linux/sparc]\n", "platforms[1]", []string{`unknown architecture "sparc"`, "amd64"}},
		{"platform bad variant", minimal + "platforms: [linux/amd64/v2]\n", "platforms[0]", []string{`has no variant "v2"`}},
		{"platform no arch", minimal + "platforms: [linux]\n", "platforms[0]", []string{"not os/arch[/variant]"}},
		{"platform duplicate", minimal + "platforms: [linux/arm64, linux/amd64, linux/arm64]\n", "platforms[2]", []string{"listed twice"}},
		{"platforms empty", minimal + "platforms: []\n", "platforms", []string{"empty", "linux/amd64"}},
		{"requirements empty", minimal + "requirements: \"\"\n", "requirements", []string{"empty"}},
		{"index not http", minimal + "index: {url: ftp://pypi.example/simple}\n", "index.url", []string{"not an http(s) URL", "https://pypi.org/simple/"}},
		{"python relative", minimal + "python: {interpreter: bin/python3}\n", "python.interpreter", []string{"not absolute"}},
		{"uid root", minimal + "user: {uid: 0}\n", "user.uid", []string{"runtime user must be non-root", "10001"}},
		{"gid root", minimal + "user: {gid: 0}\n", "user.gid", []string{"runtime user must be non-root"}},
		{"uid negative", minimal + "user: {uid: -5}\n", "user.uid", []string{"non-root"}},
		{"user named root", minimal + "user: {name: root}\n", "user.name", []string{"non-root"}},
		{"user name invalid", minimal + "user: {name: Pg User}\n", "user.name", []string{"not a valid user name"}},
		{"home relative", minimal + "user: {home: home/pgcli}\n", "user.home", []string{"not an absolute path"}},
		{"entrypoint empty", minimal + "entrypoint: []\n", "entrypoint", []string{"empty", "entrypoint: [pgcli]"}},
		{"entrypoint empty entry", minimal + "entrypoint: [pgcli, \"\"]\n", "entrypoint[1]", []string{"empty"}},
		{"env key invalid", minimal + "env: {1BAD: x}\n", "env.1BAD", []string{"not a valid environment variable name"}},
		{"env key dash", minimal + "env: {MY-VAR: x}\n", "env.MY-VAR", []string{"not a valid environment variable name"}},
		{"workingDir relative", minimal + "workingDir: work\n", "workingDir", []string{"not absolute"}},
		{"label empty key", minimal + "labels: {\"\": x}\n", "labels", []string{"empty key"}},
		{"source url", minimal + "source: {url: not a url}\n", "source.url", []string{"not an absolute URL"}},
		{"smoke name missing", smoke("  - expect: {exitCode: 0}\n"), "smoke[0].name", []string{"missing"}},
		{"smoke name duplicate", smoke("  - {name: a, expect: {exitCode: 0}}\n  - {name: a, expect: {exitCode: 0}}\n"), "smoke[1].name", []string{`"a" is also the name of smoke[0]`}},
		{"smoke regexp", smoke("  - {name: a, expect: {stdoutRegexp: '('}}\n"), "smoke[0].expect.stdoutRegexp", []string{"does not compile", "RE2"}},
		{"smoke timeout zero", smoke("  - {name: a, expect: {exitCode: 0}, timeout: 0s}\n"), "smoke[0].timeout", []string{"not positive"}},
		{"smoke timeout negative", smoke("  - {name: a, expect: {exitCode: 0}, timeout: -5s}\n"), "smoke[0].timeout", []string{"not positive"}},
		{"smoke exit code", smoke("  - {name: a, expect: {exitCode: 300}}\n"), "smoke[0].expect.exitCode", []string{"not an exit code"}},
		{"smoke exit code negative", smoke("  - {name: a, expect: {exitCode: -1}}\n"), "smoke[0].expect.exitCode", []string{"-1 is not an exit code", "0 to 255"}},
		{"uid too large", minimal + "user: {uid: 4294967296}\n", "user.uid", []string{"4294967296 is above 2147483647", "10001"}},
		{"gid too large", minimal + "user: {gid: 2147483648}\n", "user.gid", []string{"2147483648 is above 2147483647"}},
		{"failOn unknown", minimal + "scan: {failOn: severe}\n", "scan.failOn", []string{`"severe" is not a severity`, "negligible, low, medium, high or critical"}},
		{"failOn empty", minimal + "scan: {failOn: \"\"}\n", "scan.failOn", []string{`"" is not a severity`}},
		{"failOn none", minimal + "scan: {failOn: none}\n", "scan.failOn", []string{`"none" is not a severity`}},
		{"maxDBAge zero", minimal + "scan: {maxDBAge: 0s}\n", "scan.maxDBAge", []string{"0s is not a positive duration", `"120h"`, "remove the field"}},
		{"maxDBAge zero no unit", minimal + "scan: {maxDBAge: 0}\n", "scan.maxDBAge", []string{"0s is not a positive duration"}},
		{"maxDBAge negative", minimal + "scan: {maxDBAge: -1h}\n", "scan.maxDBAge", []string{"-1h0m0s is not a positive duration"}},
		{"maxAttestationAge zero", minimal + "scan: {maxAttestationAge: 0s}\n", "scan.maxAttestationAge", []string{"0s is not a positive duration", `"168h"`, "to not require a signed scan"}},
		{"maxAttestationAge negative", minimal + "scan: {maxAttestationAge: -168h}\n", "scan.maxAttestationAge", []string{"-168h0m0s is not a positive duration"}},
		{"wheel layer threshold zero", minimal + "build: {wheelLayerThreshold: 0}\n", "build.wheelLayerThreshold", []string{"0 is not a positive size", `"64MiB"`}},
		{"max wheel size zero", minimal + "build: {maxWheelSize: 0MiB}\n", "build.maxWheelSize", []string{"0 is not a positive size", `"16GiB"`}},
		{"max wheel layers", minimal + "build: {maxWheelLayers: 65}\n", "build.maxWheelLayers", []string{"65 is outside 0..64"}},
		{"max wheel layers negative", minimal + "build: {maxWheelLayers: -1}\n", "build.maxWheelLayers", []string{"-1 is outside 0..64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), "image/harden.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", c.doc)
			}
			prefix := "image/harden.yaml: " + c.field + ": "
			if !strings.Contains(err.Error(), prefix) {
				t.Errorf("no %q in: %v", prefix, err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Fix == "" {
				t.Errorf("not an *Error with a fix: %v", err)
			}
			for _, s := range c.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("lacks %q: %v", s, err)
				}
			}
		})
	}
}

// TestScanFieldsAccepted: every severity level and positive ages parse;
// a scan: without the ages leaves them zero (default, no scan required),
// and Validate on a Config built in code treats zero as left out.
func TestScanFieldsAccepted(t *testing.T) {
	for _, lvl := range []string{"negligible", "low", "medium", "high", "critical"} {
		c, err := Parse([]byte(minimal+"scan: {failOn: "+lvl+", maxDBAge: 48h, maxAttestationAge: 168h}\n"), "h.yaml")
		if err != nil {
			t.Fatalf("failOn %s: %v", lvl, err)
		}
		if c.Scan.FailOn != lvl || c.Scan.MaxDBAge.Duration != 48*time.Hour || c.Scan.MaxAttestationAge.Duration != 168*time.Hour {
			t.Errorf("failOn %s: %+v", lvl, c.Scan)
		}
	}
	c, err := Parse([]byte(minimal+"scan: {failOn: low, maxDBAge: ~}\n"), "h.yaml")
	if err != nil || c.Scan.MaxDBAge.Duration != 0 || c.Scan.MaxAttestationAge.Duration != 0 {
		t.Errorf("ages left out: %+v %v", c, err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate with the ages left out: %v", err)
	}
	// Marshalled, the ages left out stay out, so the file parses back.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "maxDBAge") || strings.Contains(string(out), "maxAttestationAge") {
		t.Errorf("zero ages marshalled:\n%s", out)
	}
}

func TestBuildSettings(t *testing.T) {
	c, err := Parse([]byte(minimal), "h.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := c.BuildSettings()
	if b.WheelLayerThreshold != 64<<20 || *b.MaxWheelLayers != 16 || b.MaxWheelSize != 16<<30 || b.MaxInstalledSize != 64<<30 {
		t.Errorf("defaults: %+v (layers %d)", b, *b.MaxWheelLayers)
	}
	c, err = Parse([]byte(minimal+"build: {wheelLayerThreshold: 8MiB, maxWheelLayers: 0, maxWheelSize: 1G, maxInstalledSize: 1073741824}\n"), "h.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b = c.BuildSettings()
	if b.WheelLayerThreshold != 8<<20 || *b.MaxWheelLayers != 0 || b.MaxWheelSize != 1<<30 || b.MaxInstalledSize != 1<<30 {
		t.Errorf("set: %+v (layers %d)", b, *b.MaxWheelLayers)
	}
}

func TestSizeSyntax(t *testing.T) {
	for _, v := range []string{"lots", "-1", "1.5.5GiB", "[1]"} {
		_, err := Parse([]byte(minimal+"build: {maxInstalledSize: "+v+"}\n"), "h.yaml")
		if err == nil || !strings.Contains(err.Error(), "h.yaml:5: build.maxInstalledSize: ") || !strings.Contains(err.Error(), `"64MiB"`) {
			t.Errorf("%s: %v", v, err)
		}
	}
}

func TestValidateReportsAll(t *testing.T) {
	doc := "name: Bad\nversion: 1\nrepository: ghcr.io/x/y:1\nbase: python:3.12\nuser: {uid: 0}\n"
	_, err := Parse([]byte(doc), "h.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, f := range []string{"h.yaml: name: ", "h.yaml: repository: ", "h.yaml: base: ", "h.yaml: user.name: ", "h.yaml: user.uid: "} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("lacks %q: %v", f, err)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 5 {
		t.Errorf("%d problems, want 5: %v", n, err)
	}
}

func TestNoExpectation(t *testing.T) {
	for _, body := range []string{"  - name: a\n", "  - name: a\n    expect: {}\n", "  - name: a\n    expect:\n"} {
		_, err := Parse([]byte(minimal+"smoke:\n"+body), "h.yaml")
		if err == nil || !strings.Contains(err.Error(), "h.yaml:") || !strings.Contains(err.Error(), `smoke[0]: test "a" has no expectation; add expect:`) {
			t.Errorf("%q: %v", body, err)
		}
	}
	// exitCode alone is an expectation, even when 0.
	if _, err := Parse([]byte(minimal+"smoke:\n  - name: a\n    expect: {exitCode: 0}\n"), "h.yaml"); err != nil {
		t.Error(err)
	}
}

func TestStructuralErrors(t *testing.T) {
	cases := []struct {
		name, doc string
		contains  []string
		not       []string
	}{
		{"unknown top-level field", minimal + "bsae: x\n", []string{`h.yaml:5: unknown field "bsae" at the top level`, `did you mean "base"?`, "valid fields at the top level are name, version, repository, base, platforms"}, nil},
		{"unknown nested field", minimal + "user:\n  name: pgcli\n  uidd: 3\n", []string{`h.yaml:7: unknown field "uidd" in user`, `did you mean "uid"?`, "name, uid, gid, home"}, nil},
		{"unknown smoke field", minimal + "smoke:\n  - name: a\n    expect: {stdoutContain: x}\n", []string{`h.yaml:7: unknown field "stdoutContain" in smoke[0].expect`, `did you mean "stdoutContains"?`}, nil},
		{"wrong case", minimal + "workingdir: /x\n", []string{`did you mean "workingDir"?`}, nil},
		{"no suggestion", minimal + "frobnicate: 1\n", []string{`unknown field "frobnicate"`, "valid fields"}, []string{"did you mean"}},
		{"duplicate field", "name: a\n" + minimal, []string{"h.yaml:2: name: duplicate field (first at line 1)"}, nil},
		{"duplicate env key", minimal + "env:\n  A: 1\n  A: 2\n", []string{`h.yaml:7: env: duplicate key "A" (first at line 6)`}, nil},
		{"empty file", "", []string{"h.yaml: the file is empty"}, nil},
		{"comments only", "# nothing\n", []string{"the file is empty"}, nil},
		{"null document", "~\n", []string{"the file is empty"}, nil},
		{"top-level list", "- name: pgcli\n", []string{"h.yaml:1: the top level is a list, not a mapping of fields"}, nil},
		{"top-level scalar", "pgcli\n", []string{"the top level is the value \"pgcli\""}, nil},
		{"two documents", minimal + "---\nname: other\n", []string{"h.yaml:5: more than one YAML document"}, nil},
		{"platforms not a list", minimal + "platforms: linux/amd64\n", []string{"h.yaml:5: platforms: expected a list", "platforms: [a, b]"}, nil},
		{"uid not an int", minimal + "user: {uid: abc}\n", []string{"h.yaml:5: user.uid: expected an integer"}, nil},
		{"uid quoted", minimal + "user: {uid: \"10001\"}\n", []string{"user.uid: expected an integer"}, nil},
		{"env not a mapping", minimal + "env: [A=1]\n", []string{"env: expected a mapping"}, nil},
		{"name not a string", "name: [a]\n", []string{"h.yaml:1: name: expected a string, got a list"}, nil},
		{"smoke not a list", minimal + "smoke: {name: a}\n", []string{"smoke: expected a list"}, nil},
		{"smoke item not a mapping", minimal + "smoke: [a]\n", []string{"smoke[0]: expected a mapping of fields"}, nil},
		{"timeout without unit", minimal + "smoke:\n  - {name: a, expect: {exitCode: 0}, timeout: 30}\n", []string{"h.yaml:6: smoke[0].timeout: \"30\" has no unit", `"30s"`}, nil},
		{"timeout garbage", minimal + "smoke:\n  - {name: a, expect: {exitCode: 0}, timeout: soon}\n", []string{`"soon" is not a duration`}, nil},
		{"syntax error", "name: [\n", []string{"h.yaml:", "fix the YAML syntax"}, nil},
		{"tab indentation", "user:\n\tuid: 1\n", []string{"h.yaml:2:", "YAML syntax"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), "h.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", c.doc)
			}
			for _, s := range c.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("lacks %q: %v", s, err)
				}
			}
			for _, s := range c.not {
				if strings.Contains(err.Error(), s) {
					t.Errorf("has %q: %v", s, err)
				}
			}
		})
	}
}

func TestAliasesAndMerge(t *testing.T) {
	doc := minimal + `env: &env
  LANG: C.UTF-8
labels: *env
smoke:
  - &t
    name: a
    expect: {exitCode: 0}
  - <<: *t
    name: b
`
	c, err := Parse([]byte(doc), "h.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Labels["LANG"] != "C.UTF-8" || len(c.Smoke) != 2 || c.Smoke[1].Name != "b" {
		t.Errorf("%+v", c)
	}
	// An unknown field reached through an alias is still refused.
	if _, err := Parse([]byte(minimal+"x: &u {uidd: 1}\n"), "h.yaml"); err == nil {
		t.Error("accepted unknown field")
	}
	if _, err := Parse([]byte(minimal+"labels: &u {a: b}\nuser: *u\n"), "h.yaml"); err == nil || !strings.Contains(err.Error(), `unknown field "a" in user`) {
		t.Errorf("alias into user: %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "harden.yaml"))
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "harden.yaml: no such file") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestBaseRefError(t *testing.T) {
	c := &Config{Path: "h.yaml", Base: "python:3.12"}
	if _, err := c.BaseRef(); err == nil || !strings.Contains(err.Error(), `h.yaml: base "python:3.12"`) {
		t.Errorf("BaseRef = %v", err)
	}
}

func TestSuggest(t *testing.T) {
	names := fieldNames(configType)
	for in, want := range map[string]string{"bsae": "base", "entrypoints": "entrypoint", "Labels": "labels", "plaforms": "platforms", "xyz": "", "a": ""} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScanSettingsResolvesPaths(t *testing.T) {
	c := &Config{Dir: "img", Scan: Scan{FailOn: "high", VEX: []string{"a.openvex.json", "/abs/b.json"}, DB: "vulndb"}}
	sc := c.ScanSettings()
	want := []string{filepath.Join("img", "a.openvex.json"), "/abs/b.json"}
	if !reflect.DeepEqual(sc.VEX, want) || sc.DB != filepath.Join("img", "vulndb") || sc.FailOn != "high" {
		t.Errorf("ScanSettings = %+v, want VEX %v and DB img/vulndb", sc, want)
	}
	if c.Scan.VEX[0] != "a.openvex.json" {
		t.Errorf("ScanSettings changed the config: %v", c.Scan.VEX)
	}
}
