// Package vsa reads and writes SLSA Verification Summary Attestations
// (https://slsa.dev/spec/v1.0/verification_summary): a verifier's signed
// record that an image passed, or failed, a policy at a time. It knows
// the format only; harden verify makes and checks them.
package vsa

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"
)

// PredicateType is the in-toto predicate type of a VSA.
const PredicateType = "https://slsa.dev/verification_summary/v1"

// VerifierID names harden as the verifier.
const VerifierID = "https://github.com/harden-dev/harden"

// PolicyURI says where the policy a digest covers is described.
const PolicyURI = "https://github.com/harden-dev/harden/blob/main/docs/vsa.md#policy"

// Verification results.
const (
	Passed = "PASSED"
	Failed = "FAILED"
)

// SLSA build levels, in order.
var Levels = []string{"SLSA_BUILD_LEVEL_0", "SLSA_BUILD_LEVEL_1", "SLSA_BUILD_LEVEL_2", "SLSA_BUILD_LEVEL_3"}

// Predicate is a VSA predicate, field for field.
type Predicate struct {
	Verifier           Verifier     `json:"verifier"`
	TimeVerified       time.Time    `json:"timeVerified"`
	ResourceURI        string       `json:"resourceUri"`
	Policy             Descriptor   `json:"policy"`
	InputAttestations  []Descriptor `json:"inputAttestations"`
	VerificationResult string       `json:"verificationResult"`
	VerifiedLevels     []string     `json:"verifiedLevels"`
	SlsaVersion        string       `json:"slsaVersion"`
}

// Verifier is who verified.
type Verifier struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// Descriptor is an in-toto resource descriptor: a URI and its digest.
type Descriptor struct {
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest"`
}

// Subject is one artifact the statement is about.
type Subject struct {
	Name        string            `json:"name"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Statement is a VSA as an in-toto statement.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// ResourceURI is the package URL of an image by digest:
// pkg:oci/app@sha256:…?repository_url=ghcr.io%2Forg%2Fapp (packageurl-go).
func ResourceURI(repository, digest string) string {
	n := repository[strings.LastIndex(repository, "/")+1:]
	return packageurl.NewPackageURL(packageurl.TypeOCI, "", n, digest,
		packageurl.Qualifiers{{Key: "repository_url", Value: repository}}, "").ToString()
}

// Marshal encodes the statement, checking what the spec requires.
func (s *Statement) Marshal() ([]byte, error) {
	s.Type, s.PredicateType = "https://in-toto.io/Statement/v1", PredicateType
	if err := s.Predicate.valid(); err != nil {
		return nil, err
	}
	if len(s.Subject) == 0 {
		return nil, errors.New("VSA: no subject")
	}
	return json.Marshal(s)
}

func (p *Predicate) valid() error {
	switch {
	case p.Verifier.ID == "":
		return errors.New("VSA: no verifier id")
	case p.TimeVerified.IsZero():
		return errors.New("VSA: no timeVerified")
	case p.ResourceURI == "":
		return errors.New("VSA: no resourceUri")
	case p.VerificationResult != Passed && p.VerificationResult != Failed:
		return fmt.Errorf("VSA: verificationResult %q is neither %s nor %s", p.VerificationResult, Passed, Failed)
	case len(p.VerifiedLevels) == 0:
		return errors.New("VSA: no verifiedLevels")
	}
	return nil
}

// Parse decodes a statement: it must be a VSA and well formed.
func Parse(b []byte) (*Statement, error) {
	var s Statement
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("not a VSA statement: %w", err)
	}
	if s.PredicateType != PredicateType {
		return nil, fmt.Errorf("predicate type %q is not a VSA", s.PredicateType)
	}
	if err := s.Predicate.valid(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Requirement is what a consumer asks of a VSA.
type Requirement struct {
	MaxAge time.Duration // 0: any age
	Level  string        // "": any; else a level from Levels, or higher
	// PolicyDigest, when set, is the sha256 of the policy the VSA must
	// have been made under.
	PolicyDigest string
	Now          time.Time
}

// Check says why s does not satisfy r for the image digest ("" if it
// does). A VSA of another digest, a FAILED one, a stale one, one under
// another policy or below the level is refused.
func (s *Statement) Check(digest string, r Requirement) string {
	if !s.About(digest) {
		return "it is about another image (no subject is " + digest + ")"
	}
	p := s.Predicate
	if p.VerificationResult != Passed {
		return "the verification it records " + p.VerificationResult
	}
	if r.MaxAge > 0 {
		if age := r.Now.Sub(p.TimeVerified); age > r.MaxAge {
			return fmt.Sprintf("made %s ago (%s), older than the limit of %s", age.Round(time.Minute), p.TimeVerified.UTC().Format(time.RFC3339), r.MaxAge)
		}
		if p.TimeVerified.After(r.Now.Add(5 * time.Minute)) {
			return "timeVerified " + p.TimeVerified.UTC().Format(time.RFC3339) + " is in the future"
		}
	}
	if r.PolicyDigest != "" && p.Policy.Digest["sha256"] != strings.TrimPrefix(r.PolicyDigest, "sha256:") {
		return fmt.Sprintf("made under policy sha256:%s, not the required %s", p.Policy.Digest["sha256"], r.PolicyDigest)
	}
	if r.Level != "" && !p.Reaches(r.Level) {
		return fmt.Sprintf("verified levels %v do not reach %s", p.VerifiedLevels, r.Level)
	}
	return ""
}

// About reports whether digest is among the statement's subjects.
func (s *Statement) About(digest string) bool {
	hex := strings.TrimPrefix(digest, "sha256:")
	return slices.ContainsFunc(s.Subject, func(sub Subject) bool { return sub.Digest["sha256"] == hex })
}

// Reaches reports whether the verified build level is level or higher.
func (p *Predicate) Reaches(level string) bool {
	want := slices.Index(Levels, level)
	for _, l := range p.VerifiedLevels {
		if got := slices.Index(Levels, l); got >= 0 && want >= 0 && got >= want {
			return true
		}
	}
	return false
}

// IsDigest reports whether s is sha256:<64 lowercase hex digits>.
func IsDigest(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseLevel checks a level a user typed: SLSA_BUILD_LEVEL_2, or 2.
func ParseLevel(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if len(u) == 1 && u[0] >= '0' && u[0] <= '3' {
		u = "SLSA_BUILD_LEVEL_" + u
	}
	if !slices.Contains(Levels, u) {
		return "", fmt.Errorf("SLSA level %q: use one of %s (or 0-3)", s, strings.Join(Levels, ", "))
	}
	return u, nil
}
