// Package admissiontest builds what the admission policy tests and
// benchmarks attach to images: SLSA verification summaries (VSAs) in the
// format harden signs after verifying an image.
package admissiontest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/dist"
)

// PredicateVSA is the predicate type of a VSA.
const PredicateVSA = "https://slsa.dev/verification_summary/v1"

// VSA says what one verification summary states about an image.
type VSA struct {
	// Release is the image: the index and every platform manifest are
	// the subjects, and the VSA is attached to each.
	Release *dist.Release
	// TimeVerified is when the verification ran.
	TimeVerified time.Time
	// Result is "PASSED" or "FAILED".
	Result string
	// Levels are the verified levels, e.g. SLSA_BUILD_LEVEL_1.
	Levels []string
}

type digestSet map[string]string

type subject struct {
	Name        string            `json:"name"`
	Digest      digestSet         `json:"digest"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type resourceDescriptor struct {
	URI    string    `json:"uri"`
	Digest digestSet `json:"digest"`
}

type predicate struct {
	Verifier struct {
		ID      string            `json:"id"`
		Version map[string]string `json:"version"`
	} `json:"verifier"`
	TimeVerified       string               `json:"timeVerified"`
	ResourceURI        string               `json:"resourceUri"`
	Policy             resourceDescriptor   `json:"policy"`
	InputAttestations  []resourceDescriptor `json:"inputAttestations"`
	VerificationResult string               `json:"verificationResult"`
	VerifiedLevels     []string             `json:"verifiedLevels"`
	SLSAVersion        string               `json:"slsaVersion"`
}

type statement struct {
	Type          string    `json:"_type"`
	Subject       []subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     predicate `json:"predicate"`
}

// PolicyDigest is the policy digest every VSA here records.
var PolicyDigest = "sha256:" + fakeHex("policy")

func hexOf(digest string) string { return strings.TrimPrefix(digest, "sha256:") }

func fakeHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Statement returns the in-toto statement, one for the index and every
// platform manifest, and the digests to attach it to: the index first,
// then each platform manifest.
func (v VSA) Statement() ([]byte, []name.Digest, error) {
	rel := v.Release
	repo, err := name.NewRepository(rel.Repository)
	if err != nil {
		return nil, nil, err
	}
	index, err := name.NewDigest(rel.Image)
	if err != nil {
		return nil, nil, err
	}
	st := statement{Type: "https://in-toto.io/Statement/v1", PredicateType: PredicateVSA}
	st.Subject = append(st.Subject, subject{Name: rel.Repository, Digest: digestSet{"sha256": hexOf(index.DigestStr())}})
	to := []name.Digest{index}
	for _, p := range rel.Platforms {
		st.Subject = append(st.Subject, subject{Name: rel.Repository, Digest: digestSet{"sha256": hexOf(p.Digest)},
			Annotations: map[string]string{"platform": p.Platform}})
		to = append(to, repo.Digest(p.Digest))
	}
	pr := &st.Predicate
	pr.Verifier.ID = "https://github.com/harden-dev/harden"
	pr.Verifier.Version = map[string]string{"harden": "test"}
	pr.TimeVerified = v.TimeVerified.UTC().Format(time.RFC3339)
	path := strings.Split(repo.RepositoryStr(), "/")
	pr.ResourceURI = fmt.Sprintf("pkg:oci/%s@sha256%%3A%s?repository_url=%s", path[len(path)-1], hexOf(index.DigestStr()), url.QueryEscape(rel.Repository))
	pr.Policy = resourceDescriptor{URI: "https://github.com/harden-dev/harden/blob/main/docs/vsa.md#policy", Digest: digestSet{"sha256": hexOf(PolicyDigest)}}
	entry := fakeHex("provenance " + rel.Image)
	pr.InputAttestations = []resourceDescriptor{{URI: rel.Repository + "@sha256:" + entry, Digest: digestSet{"sha256": fakeHex("bundle " + entry)}}}
	pr.VerificationResult = v.Result
	pr.VerifiedLevels = v.Levels
	if pr.VerifiedLevels == nil {
		pr.VerifiedLevels = []string{}
	}
	pr.SLSAVersion = "1.0"
	b, err := json.Marshal(st)
	if err != nil {
		return nil, nil, err
	}
	return b, to, nil
}

// Attestation is the VSA as attest.Attester signs and attaches it.
func (v VSA) Attestation() (attest.Statement, error) {
	b, to, err := v.Statement()
	if err != nil {
		return attest.Statement{}, err
	}
	return attest.Statement{PredicateType: PredicateVSA, Payload: b, AttachTo: to}, nil
}
