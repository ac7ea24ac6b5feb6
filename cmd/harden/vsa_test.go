package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
)

// The VSA flags refuse what cannot work, before anything is read.
func TestVSAFlags(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	img := "registry.example/app@sha256:" + strings.Repeat("a", 64)
	id := []string{"--certificate-identity", "v@example.com", "--certificate-oidc-issuer", "https://issuer.example"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--max-vsa-age", "1h"}, "--max-vsa-age applies with --vsa-from"},
		{[]string{"--require-level", "2"}, "--require-level applies with --vsa-from"},
		{[]string{"--vsa-from", "--max-vsa-age", "0s"}, "--max-vsa-age 0s"},
		{[]string{"--vsa-from", "--max-vsa-age", "-1h"}, "--max-vsa-age -1h0m0s"},
		{[]string{"--vsa-from", "--require-level", "7"}, `SLSA level "7"`},
		{[]string{"--vsa-from", "--vsa-policy-digest", "abc"}, `--vsa-policy-digest "abc"`},
		{[]string{"--vsa-key", missing}, "--vsa-key applies with --attest-vsa"},
		{[]string{"--attest-vsa", "--vsa-from"}, "drop --vsa-from"},
		{[]string{"--attest-vsa", "--layout", missing}, "not from --layout"},
		{[]string{"--attest-vsa", "--storage", "sideways"}, "sideways"},
	}
	for _, c := range cases {
		args := append(append([]string{"verify", "--config", missing}, id...), c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "--layout") {
			args = append(args, img)
		}
		code, msg := execRoot(t, args...)
		if code != errs.CodeInput || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 with %q", c.args, code, msg, c.want)
		}
	}
}
