package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/buildinfo"
	"github.com/harden-dev/harden/internal/errs"
)

// harden --version and harden version say which harden runs; the image
// version moved to harden bump, and version next still reaches it.
func TestVersion(t *testing.T) {
	run := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		root := newRoot(&stdout, &stderr)
		root.SetArgs(args)
		err := root.ExecuteContext(t.Context())
		return stdout.String(), stderr.String(), err
	}
	want := buildinfo.Read(stampedVersion).String()
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, _, err := run(args...)
		if err != nil || strings.TrimSpace(out) != want || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%v: %q %v, want %q", args, out, err, want)
		}
	}
	out, _, err := run("version", "-o", "json")
	var in buildinfo.Info
	if err != nil || json.Unmarshal([]byte(out), &in) != nil || in.GoVersion != runtime.Version() || in.Version == "" {
		t.Errorf("version -o json: %q %v", out, err)
	}
	cfg := filepath.Join(t.TempDir(), "harden.yaml")
	if err := os.WriteFile(cfg, []byte("name: app\nversion: 1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"bump"}, {"version", "next"}} {
		stdout, stderr, err := run(append(args, "--config", cfg, "--offline")...)
		if errs.ExitCode(err) != errs.CodeInput {
			t.Errorf("%v with a bad config: %v", args, err)
		}
		if args[0] == "version" && !strings.Contains(stdout+stderr, "use harden bump") {
			t.Errorf("version next does not point at bump: %q", stdout+stderr)
		}
	}
}
