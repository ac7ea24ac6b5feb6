package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	fixtures "github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/wheel/wheeltest"
	"github.com/harden-dev/harden/internal/wheels"
)

func TestChooseEntrypoint(t *testing.T) {
	cases := []struct {
		top     []string
		scripts map[string][]string
		want    string
		err     string
	}{
		{[]string{"sqlparse"}, map[string][]string{"sqlparse": {"sqlformat"}}, "sqlformat", ""},
		{[]string{"pgcli"}, map[string][]string{"pgcli": {"other", "pgcli"}}, "pgcli", ""},
		{[]string{"foo-bar"}, map[string][]string{"foo-bar": {"Foo_Bar", "helper"}}, "Foo_Bar", ""},
		{[]string{"app"}, map[string][]string{"app": {"a", "b"}}, "",
			"entrypoint: is not set in harden.yaml and app, the top-level requirement, declares 2 console scripts (a, b), none of them alone named like the project; add one of these lines to harden.yaml: entrypoint: [a] | entrypoint: [b]"},
		{[]string{"app"}, map[string][]string{"app": {"app", "APP"}}, "",
			"declares 2 console scripts (app, APP), none of them alone named like the project; add one of these lines to harden.yaml: entrypoint: [app] | entrypoint: [APP]"},
		{[]string{"lib-only"}, map[string][]string{}, "",
			"entrypoint: is not set in harden.yaml and lib-only, the top-level requirement, declares no console scripts; add the program to run to harden.yaml, e.g. entrypoint: [python3, -m, lib_only]"},
		{[]string{"pygments", "sqlparse"}, map[string][]string{"pygments": {"pygmentize"}, "sqlparse": {"sqlformat"}}, "",
			"entrypoint: is not set in harden.yaml and reqs.in has 2 top-level requirements (pygments, sqlparse), so there is no one console script to run; console scripts found: pygments: pygmentize; sqlparse: sqlformat; add one of these lines to harden.yaml: entrypoint: [pygmentize] | entrypoint: [sqlformat]"},
		{[]string{"click", "tabulate"}, map[string][]string{"tabulate": {"tabulate"}}, "",
			"console scripts found: click: none; tabulate: tabulate; add this line to harden.yaml: entrypoint: [tabulate]"},
		{nil, nil, "", "entrypoint: is not set in harden.yaml and reqs.in lists no requirement to take a console script from"},
	}
	for _, c := range cases {
		got, err := chooseEntrypoint(c.top, c.scripts, "reqs.in")
		if c.err == "" {
			if err != nil || got != c.want {
				t.Errorf("%v %v: %q %v, want %q", c.top, c.scripts, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || errs.ExitCode(err) != errs.CodeInput {
			t.Errorf("%v %v: %q, %v (exit %d)\nwant error containing %s", c.top, c.scripts, got, err, errs.ExitCode(err), c.err)
		}
	}
	if got := entrypointLine("x[1]"); got != `entrypoint: ["x[1]"]` {
		t.Errorf("entrypointLine quotes YAML: %s", got)
	}
}

// epFixture is a tiny base pushed for arches, and a wheel directory.
type epFixture struct {
	reg, base string
	dir       string
	lock      strings.Builder
}

func newEPFixture(t *testing.T, arches ...string) *epFixture {
	t.Helper()
	reg := registrytest.Start(t, nil)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, a := range arches {
		triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[a]
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: debianBase(t, a, triplet), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: a}}})
	}
	d, _ := idx.Digest()
	ref, _ := name.ParseReference(reg + "/library/python:3.11")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	return &epFixture{reg: reg, base: fmt.Sprintf("%s/library/python:3.11@%s", reg, d), dir: t.TempDir()}
}

// pin locks a wheel file of the fixture directory.
func (f *epFixture) pin(t *testing.T, project, version string, files ...string) {
	t.Helper()
	fmt.Fprintf(&f.lock, "%s==%s", project, version)
	for _, fn := range files {
		b, err := os.ReadFile(filepath.Join(f.dir, fn))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&f.lock, " \\\n    --hash=sha256:%s", hex.EncodeToString(sum[:]))
	}
	f.lock.WriteString("\n")
}

// build builds the fixture with requirements reqs and config extra.
func (f *epFixture) build(t *testing.T, reqs, extra string, platforms string) (v1.ImageIndex, []string, error) {
	t.Helper()
	lf, err := lock.Parse(strings.NewReader(f.lock.String()), "requirements.lock")
	if err != nil {
		t.Fatal(err)
	}
	in, err := lock.ParseInput(strings.NewReader(reqs), "requirements.in")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf("name: tool\nversion: 1.0-r1\nrepository: %s/org/tool\nbase: %s\nplatforms: [%s]\n%s", f.reg, f.base, platforms, extra)), "harden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := wheels.NewCache(t.TempDir())
	var logs []string
	idx, _, err := Build(context.Background(), Options{Config: cfg, Lock: lf, Input: in, Source: wheels.NewDir(f.dir), Cache: cache,
		Registry: registry.New(), Epoch: epoch, BlobDir: t.TempDir(), Log: func(format string, a ...any) { logs = append(logs, fmt.Sprintf(format, a...)) }})
	return idx, logs, err
}

func entrypoints(t *testing.T, idx v1.ImageIndex) []string {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(cf.Config.Entrypoint, " "))
	}
	return out
}

// With no entrypoint in harden.yaml, the build takes sqlparse's console
// script (the real wheel of the fixtures), says so and records it in the
// image config; with two top-level requirements it refuses, naming both
// scripts. harden.yaml's entrypoint always wins.
func TestBuildDerivesEntrypoint(t *testing.T) {
	fx := fixtures.Load(t)
	f := newEPFixture(t, "amd64")
	for _, w := range []string{"sqlparse-0.4.2-py3-none-any.whl", "pygments-2.14.0-py3-none-any.whl"} {
		b, err := os.ReadFile(filepath.Join(fx.WheelDir, w))
		if err != nil {
			t.Skipf("skipping: the fixtures lack %s: %v", w, err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, w), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.pin(t, "pygments", "2.14.0", "pygments-2.14.0-py3-none-any.whl")
	f.pin(t, "sqlparse", "0.4.2", "sqlparse-0.4.2-py3-none-any.whl")

	idx, logs, err := f.build(t, "sqlparse==0.4.2\n", "", "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	if got := entrypoints(t, idx); strings.Join(got, ",") != "sqlformat" {
		t.Errorf("entrypoint %q, want sqlformat", got)
	}
	const said = "entrypoint not set: using console script sqlformat of package sqlparse; set entrypoint: in harden.yaml to choose"
	if n := strings.Count(strings.Join(logs, "\n"), said); n != 1 {
		t.Errorf("the build said %d times %q:\n%s", n, said, strings.Join(logs, "\n"))
	}

	_, _, err = f.build(t, "sqlparse\npygments\n", "", "linux/amd64")
	want := "entrypoint: is not set in harden.yaml and requirements.in has 2 top-level requirements (pygments, sqlparse), so there is no one console script to run; " +
		"console scripts found: pygments: pygmentize; sqlparse: sqlformat; add one of these lines to harden.yaml: entrypoint: [pygmentize] | entrypoint: [sqlformat]"
	if err == nil || !strings.Contains(err.Error(), want) || errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("two top-level requirements: exit %d %v\nwant %s", errs.ExitCode(err), err, want)
	}

	idx, logs, err = f.build(t, "sqlparse\npygments\n", "entrypoint: [pygmentize, -V]\n", "linux/amd64")
	if err != nil || strings.Join(entrypoints(t, idx), ",") != "pygmentize -V" || strings.Contains(strings.Join(logs, "\n"), "entrypoint not set") {
		t.Errorf("configured entrypoint: %v %q %q", err, entrypoints(t, idx), logs)
	}
}

// A top-level wheel whose scripts leave no single choice, or whose
// platforms disagree, fails the build with the line to add.
func TestBuildEntrypointAmbiguous(t *testing.T) {
	f := newEPFixture(t, "amd64", "arm64")
	wheeltest.Write(t, f.dir, "multi-1.0-py3-none-any.whl", "multi", "1.0",
		wheeltest.Member{Name: "multi/__init__.py", Data: "def main(): pass\n"},
		wheeltest.Member{Name: "multi-1.0.dist-info/entry_points.txt", Data: "[console_scripts]\nmulti-serve = multi:main\nmulti-admin = multi:main\n\n[gui_scripts]\nmulti = multi:main\n"})
	f.pin(t, "multi", "1.0", "multi-1.0-py3-none-any.whl")
	wheeltest.Write(t, f.dir, "nat-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", "nat", "2.0",
		wheeltest.Member{Name: "nat-2.0.dist-info/entry_points.txt", Data: "[console_scripts]\nnat-x86 = nat:main\n"})
	wheeltest.Write(t, f.dir, "nat-2.0-cp311-cp311-manylinux_2_17_aarch64.whl", "nat", "2.0",
		wheeltest.Member{Name: "nat-2.0.dist-info/entry_points.txt", Data: "[console_scripts]\nnat-arm = nat:main\n"})
	f.pin(t, "nat", "2.0", "nat-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", "nat-2.0-cp311-cp311-manylinux_2_17_aarch64.whl")

	// gui_scripts do not count: "multi" is not a console script.
	_, _, err := f.build(t, "multi\n", "", "linux/amd64")
	want := "entrypoint: is not set in harden.yaml and multi, the top-level requirement, declares 2 console scripts (multi-admin, multi-serve), none of them alone named like the project; " +
		"add one of these lines to harden.yaml: entrypoint: [multi-admin] | entrypoint: [multi-serve]"
	if err == nil || !strings.Contains(err.Error(), want) || errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("ambiguous scripts: exit %d %v\nwant %s", errs.ExitCode(err), err, want)
	}

	_, _, err = f.build(t, "nat\n", "", "linux/amd64, linux/arm64")
	want = "entrypoint: is not set in harden.yaml, and nat's wheel for linux/arm64 gives console script nat-arm where linux/amd64's gives nat-x86; add the line to harden.yaml: entrypoint: [nat-x86]"
	if err == nil || !strings.Contains(err.Error(), want) || errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("platforms disagree: exit %d %v\nwant %s", errs.ExitCode(err), err, want)
	}
	idx, _, err := f.build(t, "nat\n", "", "linux/amd64")
	if err != nil || strings.Join(entrypoints(t, idx), ",") != "nat-x86" {
		t.Errorf("one platform: %v", err)
	}
}
