package release

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
)

// These tests need no fixtures, runtime, registry or Sigstore: they run
// under go test -short.

func testProject(t *testing.T, repo string) *project.Project {
	t.Helper()
	return &project.Project{Config: &config.Config{Path: filepath.Join(t.TempDir(), "harden.yaml"), Name: "app", Repository: repo}}
}

func writeState(t *testing.T, out string, s State) {
	t.Helper()
	b, _ := json.Marshal(s)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, StateFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A release to another repository does not inherit the registry facts
// of the last one: its failure must not describe, or advise deleting,
// an image in a repository it never touched.
func TestStateBoundToRepository(t *testing.T) {
	cases := []struct {
		name      string
		stateRepo string
		repo      string
		keep      bool
	}{
		{"same repository", "registry.example/a/app", "registry.example/a/app", true},
		{"another repository", "registry.example/a/app", "registry.example/b/app", false},
		{"state of an older harden (no repository)", "", "registry.example/b/app", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			published := "registry.example/a/app@sha256:" + strings.Repeat("a", 64)
			writeState(t, out, State{Schema: StateSchema, Inputs: "sha256:in", Digest: "sha256:" + strings.Repeat("a", 64),
				Tested: true, Repository: c.stateRepo, Published: published, Signed: true, Attested: true, Verified: true})
			r := &run{o: Options{Project: testProject(t, c.repo), Out: out}}
			if err := r.prepare(); err != nil {
				t.Fatal(err)
			}
			if got := r.state.Published == published && r.state.Signed && r.state.Verified; got != c.keep {
				t.Errorf("registry facts kept = %v, want %v: %+v", got, c.keep, r.state)
			}
			if !r.state.Tested || r.state.Digest == "" {
				t.Errorf("the build and its test are the repository's business no more than before: %+v", r.state)
			}
			msg := r.stopped(StagePublish, errors.New("connection refused")).Error()
			if !c.keep && (strings.Contains(msg, "registry.example/a/app") || strings.Contains(msg, "release.json is not written") || strings.Contains(msg, "roll back")) {
				t.Errorf("a release to %s describes %s:\n%s", c.repo, c.stateRepo, msg)
			}
			if !c.keep && !strings.Contains(msg, "nothing was pushed to "+c.repo) {
				t.Errorf("the stop does not say nothing was pushed to %s:\n%s", c.repo, msg)
			}
		})
	}
}

// Roll-back advice names only what this run created.
func TestRollbackAdviceOnlyForThisRun(t *testing.T) {
	r := &run{o: Options{Project: testProject(t, "registry.example/a/app"), Out: t.TempDir()}}
	if err := r.prepare(); err != nil {
		t.Fatal(err)
	}
	r.state.Published = "registry.example/a/app@sha256:" + strings.Repeat("b", 64)
	r.state.Signed = true
	msg := r.stopped(StageAttest, errors.New("boom")).Error()
	if strings.Contains(msg, "to roll back") || !strings.Contains(msg, "from an earlier run") {
		t.Errorf("an earlier run's image offered for deletion:\n%s", msg)
	}
	r.created = created{published: true, signed: true}
	msg = r.stopped(StageAttest, errors.New("boom")).Error()
	if !strings.Contains(msg, "to roll back") || !strings.Contains(msg, "this run pushed it, signed it") {
		t.Errorf("this run's push not offered for roll-back:\n%s", msg)
	}
}

// Every preflight item is checked and reported before anything is
// built; the release stops there with the exit code of the problems, in
// a dry run too.
func TestPreflightReportsEveryProblem(t *testing.T) {
	for _, dry := range []bool{false, true} {
		out := t.TempDir()
		o := Options{
			Project: testProject(t, "127.0.0.1:1/org/app"), Out: out, DryRun: dry, Runtime: "bogus",
			Signer:   attest.SignerParams{TrustedRoot: filepath.Join(out, "no-root.json"), SigningConfig: filepath.Join(out, "no-config.json")},
			Registry: registry.New(registry.WithBackoff(remote.Backoff{Steps: 1})),
			Scan:     ScanOptions{},
		}
		o.Project.Config.Scan.DB = filepath.Join(out, "no-db")
		_, results, err := Run(context.Background(), o)
		var stop *StopError
		if !errors.As(err, &stop) || stop.Stage != StagePreflight {
			t.Fatalf("dry=%v: %v", dry, err)
		}
		for _, want := range []string{"4 of 4 preflight checks failed", "runtime: ", `unknown runtime "bogus"`, "signer: ", "registry: ", "vulnerability database: ", "nothing was pushed to 127.0.0.1:1/org/app"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("dry=%v: the stop lacks %q:\n%v", dry, want, err)
			}
		}
		if code := errs.ExitCode(err); code != errs.CodeInput && code != errs.CodeUnreachable {
			t.Errorf("dry=%v: exit code %d", dry, code)
		}
		if len(results) != 1 || results[0].Stage != StagePreflight || results[0].Status != "failed" {
			t.Errorf("dry=%v: results %+v, want only a failed preflight", dry, results)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("dry=%v: the preflight wrote %v", dry, ents)
		}
	}
}
