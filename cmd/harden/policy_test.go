package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
)

// policyConfig writes a harden.yaml with a signer and a scan requirement,
// which --from-vsa policies must not carry over.
func policyConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "harden.yaml")
	if err := os.WriteFile(cfg, []byte(`name: app
version: 1.0.0-r1
repository: registry.example/app
base: python:3.12-slim@sha256:`+strings.Repeat("a", 64)+`
signer: {issuer: https://issuer.example, identity: release@example.com}
scan: {maxAttestationAge: 168h}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestPolicyFromVSAFlags: policy generate --from-vsa refuses, with exit 2
// and a message naming the flag, what cannot work: an engine that cannot
// read attestations, no verifier or two, a limit that cannot be meant,
// the per-attestation flags it replaces, and the VSA flags without it.
func TestPolicyFromVSAFlags(t *testing.T) {
	cfg := policyConfig(t)
	dir := t.TempDir()
	pub := filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(pub, []byte("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqVxwLtnzh1+yaVGwacyQX6Q/oHEn\nABPUaTKuQMi3rgG8jcCeSiLfbFlzan9jWPtdkHr84gQJvYMGbnqQjlU9Ow==\n-----END PUBLIC KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := []string{"--certificate-identity", "verifier@example.com", "--certificate-oidc-issuer", "https://issuer.example"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--engine", "gatekeeper", "--from-vsa"}, "--from-vsa: --engine gatekeeper cannot read attestations"},
		{[]string{"--engine", "ratify", "--from-vsa"}, "--from-vsa: --engine ratify cannot read attestations"},
		{[]string{"--engine", "kyverno", "--from-vsa"}, "--from-vsa needs the verifier"},
		{[]string{"--engine", "kyverno", "--from-vsa", "--key", pub, "--certificate-identity", "v@example.com"}, "--key and the identity flags both name the verifier"},
		{[]string{"--engine", "kyverno", "--from-vsa", "--key", filepath.Join(dir, "missing.pub")}, "no such file"},
		{[]string{"--engine", "kyverno", "--from-vsa", "--key", cfg}, "is not a PEM public key"},
		{[]string{"--engine", "kyverno", "--from-vsa", "--key", pub, "--trusted-root", pub}, "--trusted-root is for a keyless verifier"},
		{[]string{"--engine", "policy-controller", "--from-vsa", "--key", pub, "--format", "bundle"}, "keyless authorities only"},
		{append([]string{"--engine", "kyverno", "--from-vsa", "--max-vsa-age", "0s"}, id...), "--max-vsa-age 0s: give a positive duration"},
		{append([]string{"--engine", "kyverno", "--from-vsa", "--max-vsa-age", "-1h"}, id...), "--max-vsa-age -1h0m0s: give a positive duration"},
		{append([]string{"--engine", "kyverno", "--from-vsa", "--require-level", "4"}, id...), `--require-level: SLSA level "4"`},
		{append([]string{"--engine", "kyverno", "--from-vsa", "--require-level", ""}, id...), `--require-level: SLSA level ""`},
		{append([]string{"--engine", "kyverno", "--from-vsa", "--vsa-policy-digest", "sha256:abc"}, id...), `--vsa-policy-digest "sha256:abc"`},
		{append([]string{"--engine", "kyverno", "--from-vsa", "--max-scan-age", "24h"}, id...), "--max-scan-age with --from-vsa"},
		{append([]string{"--engine", "kyverno", "--from-vsa", "--builder-id", "https://builder.example"}, id...), "--builder-id with --from-vsa"},
		{append([]string{"--engine", "policy-controller", "--from-vsa", "--max-severity", "high"}, id...), "--max-severity with --from-vsa"},
		{[]string{"--engine", "kyverno", "--max-vsa-age", "24h"}, "--max-vsa-age names what a verification summary policy requires; add --from-vsa"},
		{[]string{"--engine", "kyverno", "--require-level", "2"}, "--require-level names what"},
		{[]string{"--engine", "kyverno", "--key", pub}, "--key names what"},
	}
	for _, c := range cases {
		args := append([]string{"policy", "generate", "--config", cfg}, c.args...)
		code, msg := execRoot(t, args...)
		if code != errs.CodeInput || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 with %q", c.args, code, msg, c.want)
		}
	}
}

// TestPolicyFromVSA: --from-vsa writes the VSA policy for the verifier
// named, with the defaults (168h, SLSA_BUILD_LEVEL_1), and none of the
// release signer's or harden.yaml's scan requirements.
func TestPolicyFromVSA(t *testing.T) {
	cfg := policyConfig(t)
	for _, engine := range []string{"kyverno", "policy-controller"} {
		var stdout, stderr bytes.Buffer
		root := newRoot(&stdout, &stderr)
		root.SetArgs([]string{"policy", "generate", "--config", cfg, "--engine", engine, "--from-vsa",
			"--github-repo", "example/app", "--github-workflow", "verify.yml", "--require-level", "2"})
		if err := root.ExecuteContext(t.Context()); err != nil {
			t.Fatalf("%s: %v", engine, err)
		}
		out := stdout.String()
		for _, want := range []string{"app-verify-vsa", "https://slsa.dev/verification_summary/v1", "https://token.actions.githubusercontent.com",
			`^https://github\.com/example/app/\.github/workflows/verify\.yml@refs/.+$`, "SLSA_BUILD_LEVEL_2", "SLSA_BUILD_LEVEL_3", "168h0m0s", "registry.example/app"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the policy lacks %q:\n%s", engine, want, out)
			}
		}
		for _, absent := range []string{"release@example.com", "vuln/v1", "https://slsa.dev/provenance/v1", "SLSA_BUILD_LEVEL_1"} {
			if strings.Contains(out, absent) {
				t.Errorf("%s: the VSA policy contains %q:\n%s", engine, absent, out)
			}
		}
	}
}
