package baseupdate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
)

var (
	oldAMD = time.Date(2025, 1, 14, 3, 4, 5, 0, time.UTC)
	oldARM = time.Date(2025, 1, 14, 3, 9, 0, 0, time.UTC)
	newAMD = time.Date(2025, 2, 4, 18, 30, 0, 0, time.UTC)
	newARM = time.Date(2025, 2, 4, 18, 41, 7, 0, time.UTC)
)

const hardenYAML = `# The pgcli image.
name: pgcli
version: 4.3.0-r1
repository: %[1]s/example/pgcli

# Pinned by digest; refresh with harden base update.
base: %[2]s   # python base
platforms: [linux/amd64, linux/arm64]

user:
  name: pgcli
`

const dockerfile = `# syntax=docker/dockerfile:1
# FROM %[1]s/library/python:old is a comment and stays.
FROM --platform=$BUILDPLATFORM %[1]s/library/python:3.12.8-slim-bookworm@%[3]s AS build
RUN true
FROM %[1]s/other/python:3.12.8-slim-bookworm
from	%[1]s/library/python	as final
FROM %[2]s
`

// index is one random image per platform, each created at the given time.
func index(t *testing.T, created map[string]time.Time) map[string]v1.Image {
	t.Helper()
	images := map[string]v1.Image{}
	for p, at := range created {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		if images[p], err = mutate.CreatedAt(img, v1.Time{Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	return images
}

// push tags an index of images as ref and returns its digest and
// per-platform digests.
func push(t *testing.T, ref string, images map[string]v1.Image) (string, map[string]string) {
	t.Helper()
	return registrytest.PushIndex(t, ref, images)
}

type setup struct {
	reg, dir, yaml, dockerfile string
	oldDigest                  string
	oldPlats                   map[string]string
	rc                         *registry.Client
}

// newSetup pushes the old base under its tag and writes harden.yaml and
// a Dockerfile pinned to it.
func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{reg: registrytest.Start(t, nil), dir: t.TempDir()}
	s.oldDigest, s.oldPlats = push(t, s.reg+"/library/python:3.12.8-slim-bookworm", index(t, map[string]time.Time{"linux/amd64": oldAMD, "linux/arm64": oldARM}))
	s.yaml = filepath.Join(s.dir, "harden.yaml")
	s.dockerfile = filepath.Join(s.dir, "Dockerfile")
	write(t, s.yaml, s.hardenYAML("3.12.8-slim-bookworm", s.oldDigest), 0o640)
	write(t, s.dockerfile, s.dockerfileText("3.12.8-slim-bookworm", s.oldDigest), 0o600)
	s.rc = registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	return s
}

func (s *setup) base(tag, digest string) string {
	return s.reg + "/library/python:" + tag + "@" + digest
}

func (s *setup) hardenYAML(tag, digest string) string {
	return fmt.Sprintf(hardenYAML, s.reg, s.base(tag, digest))
}

// dockerfileText is the Dockerfile with the first (build) stage pinned to
// buildDigest and the last stage to tag@digest.
func (s *setup) dockerfileText(tag, digest string) string {
	return fmt.Sprintf(dockerfile, s.reg, s.base(tag, digest), s.oldDigest)
}

func (s *setup) update(t *testing.T, o Options) (*Result, error) {
	t.Helper()
	o.ConfigPath, o.Registry = s.yaml, s.rc
	return Update(context.Background(), o)
}

func TestUpdateMovedTag(t *testing.T) {
	s := newSetup(t)
	newDigest, newPlats := push(t, s.reg+"/library/python:3.12.8-slim-bookworm", index(t, map[string]time.Time{"linux/amd64": newAMD, "linux/arm64": newARM}))
	oldYAML, oldDockerfile := read(t, s.yaml), read(t, s.dockerfile)

	wantYAML := s.hardenYAML("3.12.8-slim-bookworm", newDigest)
	newRef := s.base("3.12.8-slim-bookworm", newDigest)
	wantDockerfile := fmt.Sprintf(`# syntax=docker/dockerfile:1
# FROM %[1]s/library/python:old is a comment and stays.
FROM --platform=$BUILDPLATFORM %[2]s AS build
RUN true
FROM %[1]s/other/python:3.12.8-slim-bookworm
from	%[2]s	as final
FROM %[2]s
`, s.reg, newRef)
	want := &Result{
		Repository: s.reg + "/library/python", Tag: "3.12.8-slim-bookworm",
		OldDigest: s.oldDigest, NewDigest: newDigest,
		Platforms: []Platform{
			{Platform: "linux/amd64", OldDigest: s.oldPlats["linux/amd64"], NewDigest: newPlats["linux/amd64"], OldCreated: oldAMD, NewCreated: newAMD},
			{Platform: "linux/arm64", OldDigest: s.oldPlats["linux/arm64"], NewDigest: newPlats["linux/arm64"], OldCreated: oldARM, NewCreated: newARM},
		},
		Files: []FileChange{
			{Path: s.dockerfile, Lines: []config.LineChange{
				{Line: 3, Old: strings.Split(oldDockerfile, "\n")[2], New: strings.Split(wantDockerfile, "\n")[2]},
				{Line: 6, Old: strings.Split(oldDockerfile, "\n")[5], New: strings.Split(wantDockerfile, "\n")[5]},
				{Line: 7, Old: strings.Split(oldDockerfile, "\n")[6], New: strings.Split(wantDockerfile, "\n")[6]},
			}},
			{Path: s.yaml, Lines: []config.LineChange{{Line: 7, Old: "base: " + s.base("3.12.8-slim-bookworm", s.oldDigest) + "   # python base", New: "base: " + newRef + "   # python base"}}},
		},
	}

	// A dry run reports the same edits and writes nothing.
	res, err := s.update(t, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want.DryRun = true
	sameJSON(t, res, want)
	if read(t, s.yaml) != oldYAML || read(t, s.dockerfile) != oldDockerfile {
		t.Fatal("dry run changed files")
	}

	res, err = s.update(t, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want.DryRun = false
	sameJSON(t, res, want)
	if got := read(t, s.yaml); got != wantYAML {
		t.Errorf("harden.yaml:\n%s\nwant:\n%s", got, wantYAML)
	}
	if got := read(t, s.dockerfile); got != wantDockerfile {
		t.Errorf("Dockerfile:\n%s\nwant:\n%s", got, wantDockerfile)
	}
	for path, mode := range map[string]os.FileMode{s.yaml: 0o640, s.dockerfile: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, mode)
		}
	}

	// Now the tag and the files agree: nothing to do.
	res, err = s.update(t, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, res, &Result{
		Repository: s.reg + "/library/python", Tag: "3.12.8-slim-bookworm", OldDigest: newDigest, NewDigest: newDigest, UpToDate: true,
		Platforms: []Platform{
			{Platform: "linux/amd64", OldDigest: newPlats["linux/amd64"], NewDigest: newPlats["linux/amd64"], OldCreated: newAMD, NewCreated: newAMD},
			{Platform: "linux/arm64", OldDigest: newPlats["linux/arm64"], NewDigest: newPlats["linux/arm64"], OldCreated: newARM, NewCreated: newARM},
		},
	})
	if read(t, s.yaml) != wantYAML || read(t, s.dockerfile) != wantDockerfile {
		t.Fatal("an up-to-date run changed files")
	}
	assertNoTempFiles(t, s.dir)
}

func TestUpdateOtherTag(t *testing.T) {
	s := newSetup(t)
	newDigest, _ := push(t, s.reg+"/library/python:3.12.9-slim-bookworm", index(t, map[string]time.Time{"linux/amd64": newAMD, "linux/arm64": newARM}))
	res, err := s.update(t, Options{Tag: "3.12.9-slim-bookworm"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tag != "3.12.9-slim-bookworm" || res.NewDigest != newDigest || res.OldDigest != s.oldDigest {
		t.Errorf("result %+v", res)
	}
	if got, want := read(t, s.yaml), s.hardenYAML("3.12.9-slim-bookworm", newDigest); got != want {
		t.Errorf("harden.yaml:\n%s\nwant:\n%s", got, want)
	}
	if got := read(t, s.dockerfile); strings.Count(got, s.base("3.12.9-slim-bookworm", newDigest)) != 3 || strings.Count(got, "3.12.8") != 1 {
		t.Errorf("Dockerfile not moved to 3.12.9 on exactly its three matching FROM lines:\n%s", got)
	}
}

func TestUpdateRefusesMissingPlatform(t *testing.T) {
	s := newSetup(t)
	newDigest, _ := push(t, s.reg+"/library/python:3.12.8-slim-bookworm", index(t, map[string]time.Time{"linux/amd64": newAMD}))
	oldYAML, oldDockerfile := read(t, s.yaml), read(t, s.dockerfile)
	for _, dry := range []bool{true, false} {
		_, err := s.update(t, Options{DryRun: dry})
		if err == nil {
			t.Fatal("an index without linux/arm64 was accepted")
		}
		if errs.ExitCode(err) != errs.CodeInput {
			t.Errorf("exit code %d, want %d: %v", errs.ExitCode(err), errs.CodeInput, err)
		}
		want := "python:3.12.8-slim-bookworm now points to " + newDigest + ", which has no linux/arm64 manifest (it has linux/amd64); not updating"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nwant it to contain %q", err, want)
		}
	}
	if read(t, s.yaml) != oldYAML || read(t, s.dockerfile) != oldDockerfile {
		t.Fatal("a refused update changed files")
	}
	assertNoTempFiles(t, s.dir)
}

func TestUpdateDockerfileOptional(t *testing.T) {
	s := newSetup(t)
	newDigest, _ := push(t, s.reg+"/library/python:3.12.8-slim-bookworm", index(t, map[string]time.Time{"linux/amd64": newAMD, "linux/arm64": newARM}))

	// No Dockerfile: harden.yaml alone, silently.
	if err := os.Remove(s.dockerfile); err != nil {
		t.Fatal(err)
	}
	res, err := s.update(t, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].Path != s.yaml || len(res.Warnings) != 0 {
		t.Errorf("files %+v, warnings %q; want harden.yaml only, no warning", res.Files, res.Warnings)
	}

	// A named Dockerfile must exist.
	_, err = s.update(t, Options{Dockerfile: s.dockerfile})
	if errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("missing --dockerfile: %v, want an input error", err)
	}

	// A Dockerfile without a matching FROM is left alone, with a warning.
	other := "FROM debian:bookworm\n"
	write(t, s.dockerfile, other, 0o644)
	res, err = s.update(t, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantWarn := s.dockerfile + " has no FROM line for " + s.reg + "/library/python; update it by hand if it should follow the base"
	if len(res.Warnings) != 1 || res.Warnings[0] != wantWarn {
		t.Errorf("warnings %q, want [%q]", res.Warnings, wantWarn)
	}
	if read(t, s.dockerfile) != other {
		t.Error("unrelated Dockerfile changed")
	}
	if got, want := read(t, s.yaml), s.hardenYAML("3.12.8-slim-bookworm", newDigest); got != want {
		t.Errorf("harden.yaml:\n%s\nwant:\n%s", got, want)
	}
}

func TestUpdateNeedsTag(t *testing.T) {
	s := newSetup(t)
	write(t, s.yaml, fmt.Sprintf(hardenYAML, s.reg, s.reg+"/library/python@"+s.oldDigest), 0o644)
	_, err := s.update(t, Options{})
	if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "has no tag to follow; pass --tag") {
		t.Errorf("got %v, want an input error asking for --tag", err)
	}
}

func TestSplitBase(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct{ base, repo, tag string }{
		{"python:3.12-slim@" + d, "python", "3.12-slim"},
		{"python@" + d, "python", ""},
		{"localhost:5000/library/python:3.12@" + d, "localhost:5000/library/python", "3.12"},
		{"localhost:5000/library/python@" + d, "localhost:5000/library/python", ""},
	} {
		repo, tag, digest, err := splitBase(tc.base)
		if err != nil || repo != tc.repo || tag != tc.tag || digest != d {
			t.Errorf("splitBase(%q) = %q, %q, %q, %v; want %q, %q", tc.base, repo, tag, digest, err, tc.repo, tc.tag)
		}
	}
}

func sameJSON(t *testing.T, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if string(g) != string(w) {
		t.Errorf("result:\n%s\nwant:\n%s", g, w)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "harden.yaml" && e.Name() != "Dockerfile" {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
