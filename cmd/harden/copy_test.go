package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/relocate"
)

type runResult struct {
	code           int
	stdout, stderr string
	err            error
}

// runHarden runs the command line in process, as main does.
func runHarden(t *testing.T, args ...string) runResult {
	t.Helper()
	var so, se bytes.Buffer
	root := newRoot(&so, &se)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return runResult{code: errs.ExitCode(err), stdout: so.String(), stderr: se.String(), err: err}
}

// pushTagged writes a random image to reg/app:v1 and returns its digest
// reference.
func pushTagged(t *testing.T, reg string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(reg + "/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(d.String())
}

func TestCopyBadInput(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := pushTagged(t, reg)
	missing := filepath.Join(t.TempDir(), "no-such-export")
	cases := []struct {
		name     string
		args     []string
		contains []string
	}{
		{"tag instead of digest", []string{"copy", reg + "/app:v1", reg + "/mirror"},
			[]string{"is a tag", ref.String(), "harden copy " + ref.String() + " " + reg + "/mirror"}},
		{"tag that does not resolve", []string{"copy", reg + "/app:nope", reg + "/mirror"}, []string{"REPO@sha256:<digest>"}},
		{"missing layout", []string{"copy", "--from-layout", missing, reg + "/mirror"}, []string{missing, "harden export"}},
		{"destination with a tag", []string{"copy", ref.String(), reg + "/mirror:v1"}, []string{"without tag or digest"}},
		{"bad destination", []string{"copy", ref.String(), reg + "/Mirror Repo"}, []string{"without tag or digest"}},
		{"no destination", []string{"copy", ref.String()}, []string{"harden copy IMAGE@sha256"}},
		{"layout and image", []string{"copy", "--from-layout", missing, ref.String(), reg + "/mirror"}, []string{"--from-layout DIR DST-REPO"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runHarden(t, c.args...)
			if r.code != errs.CodeInput {
				t.Fatalf("exit %d, want 2: %v", r.code, r.err)
			}
			for _, s := range c.contains {
				if !strings.Contains(r.err.Error(), s) {
					t.Errorf("message does not mention %q: %v", s, r.err)
				}
			}
		})
	}
}

func TestCopyCommand(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := pushTagged(t, reg)
	dst := reg + "/mirror"
	r := runHarden(t, "copy", ref.String(), dst)
	if r.code != 0 {
		t.Fatalf("copy: exit %d: %v", r.code, r.err)
	}
	for _, s := range []string{ref.String() + " -> " + dst + "@" + ref.DigestStr(), "manifests:   1 copied, 0 already present", "read back"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, r.stdout)
		}
	}
	r = runHarden(t, "copy", ref.String(), dst, "--output", "json")
	if r.code != 0 {
		t.Fatalf("second copy: exit %d: %v", r.code, r.err)
	}
	var res relocate.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--output json: %v\n%s", err, r.stdout)
	}
	if res.Written() || res.Manifests.Present != 1 || res.Blobs.Present != 2 || !res.ReadBack || res.Digest != ref.DigestStr() {
		t.Errorf("second copy: %+v", res)
	}
}
