package vsa

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func statement(t *testing.T, result string, levels []string, at time.Time) *Statement {
	t.Helper()
	s := &Statement{
		Subject: []Subject{{Name: "registry.example/org/app", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}}},
		Predicate: Predicate{Verifier: Verifier{ID: VerifierID}, TimeVerified: at, ResourceURI: ResourceURI("registry.example/org/app", "sha256:"+strings.Repeat("a", 64)),
			Policy:             Descriptor{URI: PolicyURI, Digest: map[string]string{"sha256": strings.Repeat("c", 64)}},
			VerificationResult: result, VerifiedLevels: levels, SlsaVersion: "1.0"},
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	now := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	digest := "sha256:" + strings.Repeat("a", 64)
	good := statement(t, Passed, []string{"SLSA_BUILD_LEVEL_2"}, now.Add(-time.Hour))
	cases := []struct {
		name   string
		s      *Statement
		digest string
		r      Requirement
		want   string // "" accepted, else part of the reason
	}{
		{"fresh and passing", good, digest, Requirement{MaxAge: 24 * time.Hour, Now: now}, ""},
		{"level reached", good, digest, Requirement{Level: "SLSA_BUILD_LEVEL_1", Now: now}, ""},
		{"exact level", good, digest, Requirement{Level: "SLSA_BUILD_LEVEL_2", Now: now}, ""},
		{"exact policy", good, digest, Requirement{PolicyDigest: "sha256:" + strings.Repeat("c", 64), Now: now}, ""},
		{"another digest", good, "sha256:" + strings.Repeat("b", 64), Requirement{Now: now}, "another image"},
		{"stale", good, digest, Requirement{MaxAge: 30 * time.Minute, Now: now}, "older than the limit"},
		{"from the future", statement(t, Passed, []string{"SLSA_BUILD_LEVEL_1"}, now.Add(time.Hour)), digest, Requirement{MaxAge: time.Hour, Now: now}, "in the future"},
		{"failed", statement(t, Failed, []string{"FAILED"}, now), digest, Requirement{Now: now}, "records FAILED"},
		{"level too low", good, digest, Requirement{Level: "SLSA_BUILD_LEVEL_3", Now: now}, "do not reach"},
		{"other policy", good, digest, Requirement{PolicyDigest: "sha256:" + strings.Repeat("d", 64), Now: now}, "not the required"},
	}
	for _, c := range cases {
		got := c.s.Check(c.digest, c.r)
		if (got == "") != (c.want == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	if got, want := ResourceURI("ghcr.io/org/pgcli", "sha256:"+strings.Repeat("a", 64)), "pkg:oci/pgcli@sha256:"+strings.Repeat("a", 64)+"?repository_url=ghcr.io%2Forg%2Fpgcli"; got != want {
		t.Errorf("resource URI %s, want %s", got, want)
	}
	s := statement(t, Passed, []string{"SLSA_BUILD_LEVEL_1"}, time.Unix(1800000000, 0))
	b, _ := json.Marshal(s)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["_type"] != "https://in-toto.io/Statement/v1" || m["predicateType"] != PredicateType {
		t.Errorf("statement header %v %v", m["_type"], m["predicateType"])
	}
	pred := m["predicate"].(map[string]any)
	for _, k := range []string{"verifier", "timeVerified", "resourceUri", "policy", "inputAttestations", "verificationResult", "verifiedLevels", "slsaVersion"} {
		if _, ok := pred[k]; !ok {
			t.Errorf("predicate lacks %s: %v", k, pred)
		}
	}
	if pred["timeVerified"] != "2027-01-15T08:00:00Z" {
		t.Errorf("timeVerified %v", pred["timeVerified"])
	}
	for _, bad := range []Statement{
		{Subject: s.Subject, Predicate: Predicate{TimeVerified: time.Now(), ResourceURI: "x", VerificationResult: Passed, VerifiedLevels: []string{"SLSA_BUILD_LEVEL_1"}}},
		{Subject: s.Subject, Predicate: Predicate{Verifier: Verifier{ID: VerifierID}, TimeVerified: time.Now(), ResourceURI: "x", VerificationResult: "OK", VerifiedLevels: []string{"SLSA_BUILD_LEVEL_1"}}},
		{Predicate: s.Predicate},
	} {
		if _, err := bad.Marshal(); err == nil {
			t.Errorf("an invalid VSA was encoded: %+v", bad)
		}
	}
	if _, err := Parse([]byte(`{"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)); err == nil {
		t.Error("provenance parsed as a VSA")
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]string{"2": "SLSA_BUILD_LEVEL_2", "slsa_build_level_3": "SLSA_BUILD_LEVEL_3", " SLSA_BUILD_LEVEL_0 ": "SLSA_BUILD_LEVEL_0"} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "4", "L2", "FAILED"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) accepted", bad)
		}
	}
	if !IsDigest("sha256:"+strings.Repeat("a", 64)) || IsDigest("sha256:"+strings.Repeat("A", 64)) || IsDigest("sha512:x") {
		t.Error("IsDigest")
	}
}
