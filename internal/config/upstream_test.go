package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestUpstreamExample(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "upstream.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u := c.UpstreamPolicy()
	if u.Require.All || !reflect.DeepEqual(u.Require.Packages, []string{"sqlparse", "click"}) || u.Missing != MissingFail {
		t.Errorf("upstream %+v", u)
	}
	want := map[string]UpstreamPublisher{
		"click":                {Kind: PublisherGitHub, Repository: "pallets/click", Workflow: "publish.yaml", Environment: "pypi"},
		"gcb-attestation-test": {Kind: PublisherGoogle, Email: "919436158236-compute@developer.gserviceaccount.com"},
	}
	if !reflect.DeepEqual(u.Publishers, want) {
		t.Errorf("publishers %+v", u.Publishers)
	}
	// The policy's defaults do not write through to the config.
	if c.Upstream.Publishers["click"].Kind != "" {
		t.Error("UpstreamPolicy changed the config")
	}
	if !u.Require.Contains("click") || !u.Require.Contains("sqlparse") || u.Require.Contains("pgcli") {
		t.Error("Contains")
	}
}

func TestUpstreamDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal+"upstream: {require: all}\n"), "harden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u := c.UpstreamPolicy()
	if !u.Require.All || u.Missing != MissingWarn || !u.Require.Contains("anything") {
		t.Errorf("upstream %+v", u)
	}
	c, err = Parse([]byte(minimal), "harden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if u := c.UpstreamPolicy(); u.Require.All || u.Require.Packages != nil || u.Missing != MissingWarn {
		t.Errorf("default upstream %+v", u)
	}
	// Names match as the lock writes them (PEP 503).
	c, err = Parse([]byte(minimal+"upstream: {require: [Typing_Extensions]}\n"), "harden.yaml")
	if err != nil || !c.UpstreamPolicy().Require.Contains("typing-extensions") {
		t.Errorf("normalised name: %v", err)
	}
}

func TestUpstreamRefused(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"require a word", "upstream: {require: some}\n", `upstream.require: "some" is neither all nor a list of package names; write all`},
		{"require a mapping", "upstream: {require: {a: b}}\n", "upstream.require: want all or a list of package names"},
		{"require empty", "upstream: {require: []}\n", "upstream.require: empty"},
		{"require a bad name", "upstream: {require: [\"-x\"]}\n", `upstream.require[0]: "-x" is not a package name`},
		{"require twice", "upstream: {require: [Foo, foo_]}\n", `upstream.require[1]: "foo_" is not a package name`},
		{"require same package", "upstream: {require: [Foo.Bar, foo-bar]}\n", `upstream.require[1]: "foo-bar" is the same package as "Foo.Bar"`},
		{"missing policy", "upstream: {missing: ignore}\n", `upstream.missing: "ignore" is not a policy; use warn`},
		{"missing policy empty", "upstream: {missing: \"\"}\n", `upstream.missing: "" is not a policy`},
		{"publisher kind empty", "upstream: {publishers: {x: {kind: \"\", repository: a/b, workflow: r.yml}}}\n", `upstream.publishers.x.kind: "" is not a publisher kind`},
		{"unknown field", "upstream: {required: all}\n", `unknown field "required" in upstream; did you mean "require"?`},
		{"publisher unknown field", "upstream: {publishers: {click: {repo: a/b, workflow: r.yml}}}\n", `unknown field "repo" in upstream.publishers.click`},
		{"publisher without repository", "upstream: {publishers: {click: {workflow: r.yml}}}\n", "upstream.publishers.click.repository: missing"},
		{"publisher without workflow", "upstream: {publishers: {click: {repository: pallets/click}}}\n", "upstream.publishers.click.workflow: missing; name the workflow"},
		{"publisher repository URL", "upstream: {publishers: {click: {repository: pallets, workflow: r.yml}}}\n", `upstream.publishers.click.repository: "pallets" is not owner/name`},
		{"publisher workflow path", "upstream: {publishers: {click: {repository: pallets/click, workflow: .github/workflows/r.yml}}}\n", `upstream.publishers.click.workflow: ".github/workflows/r.yml" is a path`},
		{"publisher kind", "upstream: {publishers: {click: {kind: Buildkite, repository: a/b, workflow: r.yml}}}\n", `upstream.publishers.click.kind: "Buildkite" is not a publisher kind; use GitHub, GitLab or Google`},
		{"Google without email", "upstream: {publishers: {x: {kind: Google}}}\n", "upstream.publishers.x.email: missing"},
		{"Google with repository", "upstream: {publishers: {x: {kind: Google, email: a@b.c, repository: a/b}}}\n", "upstream.publishers.x: a Google publisher has no repository or workflow"},
		{"GitHub with email", "upstream: {publishers: {x: {repository: a/b, workflow: r.yml, email: a@b.c}}}\n", "upstream.publishers.x.email: set for a GitHub publisher"},
		{"publisher bad name", "upstream: {publishers: {\"x y\": {repository: a/b, workflow: r.yml}}}\n", `upstream.publishers.x y: "x y" is not a package name`},
		{"publisher same package", "upstream: {publishers: {A_B: {repository: a/b, workflow: r.yml}, a-b: {repository: a/b, workflow: r.yml}}}\n", `is the same package as "A_B"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(minimal+c.yaml), "harden.yaml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}
