package pep740

import (
	"errors"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

func githubCert(repo, config, digest, ref string) certificate.Summary {
	var s certificate.Summary
	s.Issuer = GitHubIssuer
	s.SourceRepositoryURI = "https://github.com/" + repo
	s.BuildConfigURI = config
	s.SourceRepositoryDigest = digest
	s.SourceRepositoryRef = ref
	return s
}

func TestCheckWorkflow(t *testing.T) {
	gh := Publisher{Kind: KindGitHub, Repository: "o/r", Workflow: "release.yml"}
	gl := Publisher{Kind: KindGitLab, Repository: "g/sub/p", Workflow: "ci/release.yml"}
	glCert := func(config, digest, ref string) certificate.Summary {
		var s certificate.Summary
		s.Issuer = GitLabIssuer
		s.SourceRepositoryURI = "https://gitlab.com/g/sub/p"
		s.BuildConfigURI, s.SourceRepositoryDigest, s.SourceRepositoryRef = config, digest, ref
		return s
	}
	cases := []struct {
		name string
		pub  Publisher
		cert certificate.Summary
		want string // "" for a match
	}{
		{"GitHub at ref", gh, githubCert("o/r", "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1", "abc", "refs/tags/v1"), ""},
		{"GitHub at commit", gh, githubCert("o/r", "https://github.com/o/r/.github/workflows/release.yml@abc", "abc", "refs/tags/v1"), ""},
		{"GitHub digest only", gh, githubCert("o/r", "https://github.com/o/r/.github/workflows/release.yml@abc", "abc", ""), ""},
		{"GitHub other workflow", gh, githubCert("o/r", "https://github.com/o/r/.github/workflows/ci.yml@refs/tags/v1", "abc", "refs/tags/v1"),
			"right repository, wrong workflow: the provenance names GitHub o/r release.yml, the certificate was issued to workflow ci.yml"},
		{"GitHub workflow at another ref", gh, githubCert("o/r", "https://github.com/o/r/.github/workflows/release.yml@refs/heads/x", "abc", "refs/tags/v1"),
			"workflow release.yml (build config https://github.com/o/r/.github/workflows/release.yml@refs/heads/x)"},
		{"GitHub workflow of another repository", gh, githubCert("o/r", "https://github.com/evil/r/.github/workflows/release.yml@refs/tags/v1", "abc", "refs/tags/v1"),
			"issued to workflow (none)"},
		{"GitHub workflow name prefix", gh, githubCert("o/r", "https://github.com/o/r/.github/workflows/release.yml.bak@refs/tags/v1", "abc", "refs/tags/v1"),
			"workflow release.yml.bak"},
		{"GitHub no ref or digest", gh, githubCert("o/r", "https://github.com/o/r/.github/workflows/release.yml@", "", ""),
			"neither a Source Repository Digest nor a Source Repository Ref"},
		{"GitLab at ref", gl, glCert("https://gitlab.com/g/sub/p//ci/release.yml@refs/heads/main", "abc", "refs/heads/main"), ""},
		{"GitLab at commit", gl, glCert("https://gitlab.com/g/sub/p//ci/release.yml@abc", "abc", "refs/heads/main"), ""},
		{"GitLab other file", gl, glCert("https://gitlab.com/g/sub/p//.gitlab-ci.yml@abc", "abc", "refs/heads/main"),
			"issued to workflow .gitlab-ci.yml"},
		{"GitLab without ref", gl, glCert("https://gitlab.com/g/sub/p//ci/release.yml@abc", "abc", ""),
			"lacks a Source Repository Digest or Ref"},
		{"Google has no workflow", Publisher{Kind: KindGoogle, Email: "a@b"}, certificate.Summary{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkWorkflow(c.pub, c.cert)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrPublisher) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrPublisher saying %q", err, c.want)
			}
		})
	}
}

func TestCertificateIdentity(t *testing.T) {
	gh, err := certificateIdentity(Publisher{Kind: KindGitHub, Repository: "o/r", Workflow: "w.yml"})
	if err != nil {
		t.Fatal(err)
	}
	ok := githubCert("o/r", "", "", "")
	ok.SubjectAlternativeName = "https://github.com/other/reusable/.github/workflows/x.yml@refs/heads/main"
	if err := gh.Verify(ok); err != nil {
		t.Errorf("GitHub identity refused its certificate: %v", err)
	}
	for name, bad := range map[string]func(s *certificate.Summary){
		"repository":        func(s *certificate.Summary) { s.SourceRepositoryURI = "https://github.com/o/r2" },
		"issuer":            func(s *certificate.Summary) { s.Issuer = GitLabIssuer },
		"subject elsewhere": func(s *certificate.Summary) { s.SubjectAlternativeName = "https://gitlab.com/o/r//x@y" },
	} {
		s := ok
		bad(&s)
		if err := gh.Verify(s); err == nil {
			t.Errorf("GitHub identity accepted a certificate with another %s", name)
		}
	}

	g, err := certificateIdentity(Publisher{Kind: KindGoogle, Email: "sa@p.iam.gserviceaccount.com"})
	if err != nil {
		t.Fatal(err)
	}
	var gs certificate.Summary
	gs.Issuer, gs.SubjectAlternativeName = GoogleIssuer, "sa@p.iam.gserviceaccount.com"
	if err := g.Verify(gs); err != nil {
		t.Errorf("Google identity refused its certificate: %v", err)
	}
	gs.SubjectAlternativeName = "sa2@p.iam.gserviceaccount.com"
	if err := g.Verify(gs); err == nil {
		t.Error("Google identity accepted another service account")
	}

	for _, p := range []Publisher{{Kind: "ActiveState"}, {Kind: KindGitLab, Repository: "a/b"}, {Kind: KindGoogle}} {
		if _, err := certificateIdentity(p); !errors.Is(err, ErrPublisher) {
			t.Errorf("%+v: error %v, want ErrPublisher", p, err)
		}
	}
}

func TestSamePublisher(t *testing.T) {
	got := Publisher{Kind: KindGitHub, Repository: "o/r", Workflow: "w.yml", Environment: "pypi"}
	if !samePublisher(Publisher{Kind: KindGitHub, Repository: "o/r", Workflow: "w.yml"}, got) {
		t.Error("a pin without environment refused a publisher with one")
	}
	if !samePublisher(got, got) {
		t.Error("equal publishers differ")
	}
	for _, want := range []Publisher{
		{Kind: KindGitHub, Repository: "o/r", Workflow: "w.yml", Environment: "release"},
		{Kind: KindGitHub, Repository: "o/R", Workflow: "w.yml"},
		{Kind: KindGitHub, Repository: "o/r", Workflow: "x.yml"},
		{Kind: KindGitLab, Repository: "o/r", Workflow: "w.yml"},
	} {
		if samePublisher(want, got) {
			t.Errorf("pin %+v accepted %+v", want, got)
		}
	}
}
