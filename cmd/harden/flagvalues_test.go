package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/scan"
)

// execRoot runs the real command tree in process, as main does, and
// returns the exit code and the error text.
func execRoot(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRoot(&stdout, &stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	if err == nil {
		return 0, ""
	}
	return errs.ExitCode(err), err.Error()
}

// TestDegenerateFlagValues runs every duration, count and severity flag of
// every command with a zero, negative, garbage and (where cheap) valid
// value. A bad value exits 2 with a message naming the flag and the value;
// a valid one may still fail later (no layout, no database), but not
// because of that flag. Nothing here needs a network or a registry: each
// command is pointed at paths that do not exist.
func TestDegenerateFlagValues(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	cfg := filepath.Join(dir, "harden.yaml")
	if err := os.WriteFile(cfg, []byte(`name: app
version: 1.0.0-r1
repository: registry.example/app
base: python:3.12-slim@sha256:`+strings.Repeat("a", 64)+`
signer: {issuer: https://issuer.example, identity: release@example.com}
scan: {maxAttestationAge: 168h}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The command line before the flag under test: enough for the command
	// to get past its other checks without touching the network.
	verifyArgs := []string{"verify", "--layout", missing, "--key", missing, "--config", missing}
	rebuildArgs := []string{"rebuild", "--layout", missing, "--key", missing, "--config", missing}
	scanArgs := []string{"scan", "--sbom", missing, "--db", missing, "--config", missing}
	policyArgs := []string{"policy", "generate", "--engine", "kyverno", "--config", cfg}
	policyVSAArgs := []string{"policy", "generate", "--engine", "kyverno", "--config", cfg, "--from-vsa",
		"--certificate-identity", "verifier@example.com", "--certificate-oidc-issuer", "https://issuer.example"}

	type tc struct {
		value string // as given
		shown string // as the message shows it; "" for value
		bad   bool
	}
	durations := []tc{
		{"0s", "0s", true}, {"0", "0s", true}, {"-1h", "-1h0m0s", true},
		{"soon", "", true}, {"", "", true}, {"168h", "", false},
	}
	maxSeverity := []tc{
		{"", `""`, true}, {"0", `"0"`, true}, {"-1", `"-1"`, true}, {"severe", `"severe"`, true},
		{"none", "", false}, {"Negligible", "", false}, {"unknown", "", false},
	}
	failOn := []tc{
		{"", `""`, true}, {"0", `"0"`, true}, {"-1", `"-1"`, true}, {"none", `"none"`, true},
		{"unknown", `"unknown"`, true}, {"severe", `"severe"`, true},
		{"negligible", "", false}, {"HIGH", "", false},
	}
	uid := []tc{
		{"0", "", true}, {"-1", "", true}, {"4294967296", "", true},
		{"abc", "", true}, {"99999999999999999999", "", true}, {"10001", "", false}, {"65534", "", false},
	}
	flags := []struct {
		prefix []string
		flag   string
		cases  []tc
	}{
		{verifyArgs, "max-scan-age", durations},
		{verifyArgs, "max-severity", maxSeverity},
		{verifyArgs, "expect-uid", uid},
		{rebuildArgs, "max-scan-age", durations},
		{rebuildArgs, "max-severity", maxSeverity},
		{rebuildArgs, "expect-uid", uid},
		{policyArgs, "max-scan-age", durations},
		{policyArgs, "max-severity", maxSeverity},
		{policyVSAArgs, "max-vsa-age", durations},
		{scanArgs, "max-db-age", durations},
		{scanArgs, "fail-on", failOn},
	}
	for _, f := range flags {
		for _, c := range f.cases {
			name := f.prefix[0] + " --" + f.flag + "=" + c.value
			if f.prefix[0] == "policy" {
				name = "policy generate --" + f.flag + "=" + c.value
			}
			t.Run(name, func(t *testing.T) {
				args := append(append([]string{}, f.prefix...), "--"+f.flag+"="+c.value)
				code, msg := execRoot(t, args...)
				t.Logf("exit %d: %s", code, msg)
				if !c.bad {
					if code != 0 && strings.Contains(msg, "--"+f.flag) {
						t.Errorf("exit %d about the flag itself: %s", code, msg)
					}
					return
				}
				shown := c.shown
				if shown == "" {
					shown = c.value
				}
				if code != errs.CodeInput || !strings.Contains(msg, "--"+f.flag) || !strings.Contains(msg, shown) {
					t.Errorf("exit %d, %q; want exit 2 naming --%s and %s", code, msg, f.flag, shown)
				}
			})
		}
	}
}

// TestFlagLeftOutKeepsDefault: not giving a flag is not giving it as 0.
// verify without --max-scan-age or --max-severity requires no scan, and
// fails here only on the missing layout.
func TestFlagLeftOutKeepsDefault(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	code, msg := execRoot(t, "verify", "--layout", missing, "--key", missing)
	if code != errs.CodeInput || !strings.Contains(msg, "not an OCI layout") {
		t.Errorf("exit %d, %q; want the layout refused, nothing about flags", code, msg)
	}
}

// TestFailOnLevelsAgree: scan --fail-on and scan.failOn in harden.yaml
// take the same levels, so a release gate can be written either way.
func TestFailOnLevelsAgree(t *testing.T) {
	doc := "name: app\nversion: 1.0.0-r1\nrepository: registry.example/app\nbase: python:3.12-slim@sha256:" + strings.Repeat("a", 64) + "\nscan: {failOn: %s}\n"
	for _, lvl := range []string{"negligible", "low", "medium", "high", "critical", "none", "unknown", "severe"} {
		_, flagErr := scan.ParseSeverity(lvl)
		_, cfgErr := config.Parse([]byte(strings.Replace(doc, "%s", lvl, 1)), "harden.yaml")
		if (flagErr == nil) != (cfgErr == nil) {
			t.Errorf("%s: --fail-on says %v, scan.failOn says %v", lvl, flagErr, cfgErr)
		}
	}
}
