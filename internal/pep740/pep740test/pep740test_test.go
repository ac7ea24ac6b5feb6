package pep740test

import (
	"context"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/pep740"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// TestAttestVerifies: an attestation signed through the local stack
// (Fulcio GitHub certificate, Rekor v2 entry, RFC 3161 timestamp)
// converts to an attestation object that pep740.Verify accepts.
func TestAttestVerifies(t *testing.T) {
	s := sigstoretest.Start(t)
	const file = "pkg-1.0.0-py3-none-any.whl"
	sum := strings.Repeat("ab", 32)
	claims := sigstoretest.GitHubClaims{Repository: "example/pkg", Workflow: "release.yml", Ref: "refs/tags/v1.0.0", SHA: strings.Repeat("cd", 20)}
	att, err := Attest(t.Context(), s, claims, file, sum)
	if err != nil {
		t.Fatal(err)
	}
	pub := pep740.Publisher{Kind: pep740.KindGitHub, Repository: "example/pkg", Workflow: "release.yml", Environment: "pypi"}
	prov, err := pep740.ParseBytes(Provenance(pub, att))
	if err != nil {
		t.Fatal(err)
	}
	res, err := pep740.Verify(context.Background(), prov, file, sum, s.TrustedRoot, pep740.Options{Expect: &pub})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Attestations[0]
	if v.Publisher != pub || v.Certificate.Issuer != pep740.GitHubIssuer ||
		v.Certificate.BuildConfigURI != "https://github.com/example/pkg/.github/workflows/release.yml@refs/tags/v1.0.0" {
		t.Errorf("verified %+v", v)
	}
	// Rekor v2: a log entry without integrated time; the RFC 3161
	// timestamp is the verified time.
	if len(v.LogEntries) != 1 || !v.LogEntries[0].IntegratedTime.IsZero() || v.LogEntries[0].Version != "0.0.2" || len(v.Times) != 1 {
		t.Errorf("log entries %+v, times %v", v.LogEntries, v.Times)
	}
	// Another workflow of the same repository is another publisher.
	other := pub
	other.Workflow = "publish.yml"
	prov, err = pep740.ParseBytes(Provenance(other, att))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pep740.Verify(context.Background(), prov, file, sum, s.TrustedRoot, pep740.Options{}); err == nil ||
		!strings.Contains(err.Error(), "right repository, wrong workflow") {
		t.Errorf("wrong workflow: %v", err)
	}
}
