package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/harden-dev/harden/internal/errs"
)

func TestApplyEnv(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	wheelDir := fs.String("wheel-dir", "", "")
	indexURL := fs.String("index-url", "", "")
	identity := fs.String("certificate-identity", "", "")
	storage := fs.String("storage", "both", "")
	if err := fs.Parse([]string{"--index-url", "https://given.example/simple/"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HARDEN_WHEEL_DIR":            "/wheels",
		"HARDEN_INDEX_URL":            "https://env.example/simple/",
		"HARDEN_CERTIFICATE_IDENTITY": "someone@example.com",
		"HARDEN_RUNTIME":              "runc", // no such flag here
	}
	if err := applyEnv(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if !fromEnv(fs, "wheel-dir") || fromEnv(fs, "index-url") {
		t.Errorf("from the environment: wheel-dir %v, index-url %v; want true, false", fromEnv(fs, "wheel-dir"), fromEnv(fs, "index-url"))
	}
	if *wheelDir != "/wheels" || !fs.Changed("wheel-dir") {
		t.Errorf("wheel-dir %q (changed %v), want it from HARDEN_WHEEL_DIR", *wheelDir, fs.Changed("wheel-dir"))
	}
	if *indexURL != "https://given.example/simple/" {
		t.Errorf("index-url %q: the command line must win", *indexURL)
	}
	if *identity != "" {
		t.Errorf("certificate-identity %q taken from the environment; who signs stays on the command line", *identity)
	}
	if *storage != "both" || fs.Changed("storage") {
		t.Errorf("storage %q changed without its variable", *storage)
	}

	bad := pflag.NewFlagSet("t", pflag.ContinueOnError)
	bad.Bool("offline", false, "")
	bad.Int("progress", 0, "") // an int flag, to make Set fail
	err := applyEnv(bad, func(k string) string { return map[string]string{"HARDEN_PROGRESS": "lots"}[k] })
	if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), `HARDEN_PROGRESS="lots" (for --progress)`) {
		t.Errorf("bad value: exit %d: %v", errs.ExitCode(err), err)
	}
}
