package verify

import (
	"regexp"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
)

func TestResolveIdentityGitHub(t *testing.T) {
	const caller = "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.2.3"
	const reusable = "https://github.com/org/shared/.github/workflows/build.yml@refs/heads/main"
	cases := []struct {
		name    string
		f       IdentityFlags
		match   []string
		nomatch []string
	}{
		{"any workflow, any ref", IdentityFlags{GitHubRepo: "org/app"},
			[]string{caller, "https://github.com/org/app/.github/workflows/ci.yml@refs/heads/main"},
			[]string{"https://github.com/org/app2/.github/workflows/release.yml@refs/tags/v1", "https://github.com/evil/org/app/.github/workflows/x.yml@refs/heads/main", caller + "x\n"}},
		{"workflow and ref", IdentityFlags{GitHubRepo: "org/app", GitHubWorkflow: "release.yml", GitHubRef: "refs/tags/v1.2.3"},
			[]string{caller}, []string{strings.Replace(caller, "v1.2.3", "v1.2.4", 1), strings.Replace(caller, "release", "ci", 1)}},
		{"reusable workflow", IdentityFlags{GitHubRepo: "org/app", GitHubWorkflow: "org/shared/.github/workflows/build.yml"},
			[]string{reusable}, []string{caller, strings.Replace(reusable, "org/shared", "org/other", 1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := ResolveIdentity(c.f)
			if err != nil {
				t.Fatal(err)
			}
			if id.Issuer != GitHubIssuer || id.SourceRepository != "https://github.com/org/app" || id.Subject != "" {
				t.Fatalf("identity %+v", id)
			}
			re := regexp.MustCompile(id.SubjectRegexp)
			for _, s := range c.match {
				if !re.MatchString(s) {
					t.Errorf("%s should match %q", id.SubjectRegexp, s)
				}
			}
			for _, s := range c.nomatch {
				if re.MatchString(s) {
					t.Errorf("%s should not match %q", id.SubjectRegexp, s)
				}
			}
		})
	}
}

func TestAnchor(t *testing.T) {
	for _, c := range []struct {
		re, s string
		want  bool
	}{
		{`release@example\.com`, "release@example.com", true},
		{`release@example\.com`, "release@example.com.evil", false},
		{`release@example`, "release@example.com", false},
		{`a|b`, "xa", false},
		{`a|b`, "b", true},
		{`^already$`, "already", true},
		{`ends\$`, "ends$", true},
	} {
		if got := regexp.MustCompile(Anchor(c.re)).MatchString(c.s); got != c.want {
			t.Errorf("Anchor(%q) on %q = %v, want %v", c.re, c.s, got, c.want)
		}
	}
}

func TestResolveIdentityErrors(t *testing.T) {
	for _, c := range []struct {
		f    IdentityFlags
		want string
	}{
		{IdentityFlags{Subject: "a@b"}, "--certificate-oidc-issuer is required"},
		{IdentityFlags{Issuer: "https://i"}, "--certificate-identity"},
		{IdentityFlags{Subject: "a", SubjectRegexp: "b", Issuer: "https://i"}, "not both"},
		{IdentityFlags{SubjectRegexp: "(", Issuer: "https://i"}, "regexp"},
		{IdentityFlags{GitHubRepo: "org"}, "owner/repo"},
		{IdentityFlags{GitHubRepo: "org/app", Subject: "x"}, "drop --certificate-identity"},
		{IdentityFlags{GitHubRepo: "org/app", GitHubRef: "main"}, "full ref"},
	} {
		_, err := ResolveIdentity(c.f)
		if errs.ExitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want exit 2 mentioning %q", c.f, err, c.want)
		}
	}
}
