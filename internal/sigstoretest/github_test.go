package sigstoretest

import (
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestGitHubWorkflowCertificate signs with a GitHub Actions-shaped token:
// the certificate names GitHub's issuer and carries the extensions of a
// real GitHub Actions certificate.
func TestGitHubWorkflowCertificate(t *testing.T) {
	t.Parallel()
	s := startTimed(t)
	claims := GitHubClaims{Repository: "example/pkg", Workflow: "release.yml", Ref: "refs/tags/v1.0.0", SHA: strings.Repeat("ab", 20)}
	statement := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"pkg-1.0.0-py3-none-any.whl","digest":{"sha256":"` +
		strings.Repeat("0", 64) + `"}}],"predicateType":"https://docs.pypi.org/attestations/publish/v1","predicate":null}`)
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: inTotoType}, kp, bundleOptions(t, s, s.Issuer.GitHubToken(t, claims)))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	const san = "https://github.com/example/pkg/.github/workflows/release.yml@refs/tags/v1.0.0"
	raw, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewVerifier(s.TrustedRoot, verify.WithSignedTimestamps(1), verify.WithTransparencyLog(1))
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(GitHubIssuerURL, "", san, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithCertificateIdentity(id)))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	sum := *res.Signature.Certificate
	want := map[string]string{
		"Issuer":                   GitHubIssuerURL,
		"SubjectAlternativeName":   san,
		"SourceRepositoryURI":      "https://github.com/example/pkg",
		"SourceRepositoryRef":      "refs/tags/v1.0.0",
		"SourceRepositoryDigest":   claims.SHA,
		"BuildConfigURI":           san,
		"BuildSignerURI":           san,
		"BuildTrigger":             "push",
		"RunnerEnvironment":        "github-hosted",
		"SourceRepositoryOwnerURI": "https://github.com/example",
	}
	got := map[string]string{
		"Issuer":                   sum.Issuer,
		"SubjectAlternativeName":   sum.SubjectAlternativeName,
		"SourceRepositoryURI":      sum.SourceRepositoryURI,
		"SourceRepositoryRef":      sum.SourceRepositoryRef,
		"SourceRepositoryDigest":   sum.SourceRepositoryDigest,
		"BuildConfigURI":           sum.BuildConfigURI,
		"BuildSignerURI":           sum.BuildSignerURI,
		"BuildTrigger":             sum.BuildTrigger,
		"RunnerEnvironment":        sum.RunnerEnvironment,
		"SourceRepositoryOwnerURI": sum.SourceRepositoryOwnerURI,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}

	// A token claiming GitHub's issuer but signed with another key is refused.
	forged, err := NewIssuer(t).MintGitHub(claims, tokenLifetime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: inTotoType}, kp, bundleOptions(t, s, forged)); err == nil {
		t.Error("Fulcio issued a certificate for a GitHub token signed with an unknown key")
	}
}
