package smoke

import (
	"archive/tar"
	"context"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/harden-dev/harden/internal/config"
)

// fakeRT records what it is asked to run and answers with out.
type fakeRT struct {
	procs []Process
	out   func(Process) *Outcome
}

func (f *fakeRT) Name() string                            { return "fake" }
func (f *fakeRT) Prepare(context.Context, v1.Image) error { return nil }
func (f *fakeRT) Close() error                            { return nil }
func (f *fakeRT) Run(_ context.Context, p Process) (*Outcome, error) {
	f.procs = append(f.procs, p)
	if f.out == nil {
		return &Outcome{}, nil
	}
	return f.out(p), nil
}

// unpackedRT is fakeRT over a root filesystem on disk, as runc and
// chroot are.
type unpackedRT struct {
	*fakeRT
	root string
}

func (u unpackedRT) rootFS() string { return u.root }

// toolImage is an image whose entrypoint is /usr/local/bin/tool, run as
// 10001 with cmd [serve].
func toolImage(t *testing.T, entrypoint ...string) v1.Image {
	t.Helper()
	l, err := tarball.LayerFromReader(rawLayer(t,
		&tar.Header{Name: "usr/local/bin/tool", Typeflag: tar.TypeReg, Mode: 0o755},
		&tar.Header{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
	))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(entrypoint) == 0 {
		entrypoint = []string{"tool"}
	}
	img, err = mutate.Config(img, v1.Config{User: "10001:10001", Entrypoint: entrypoint, Cmd: []string{"serve"},
		Env: []string{"PATH=/usr/local/bin:/usr/bin", "LANG=C"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// check runs the checks of o on img with rt, as Run does after picking
// and preparing a runtime.
func check(t *testing.T, rt Runtime, img v1.Image, o Options) *Report {
	t.Helper()
	rep, cf, uid, gid, err := checkConfig(img, "linux/amd64", 10001)
	if err != nil || uid != 10001 {
		t.Fatalf("config: %v %+v", err, rep)
	}
	if err := runChecks(context.Background(), rt, img, cf, rep, user{uid, gid}, o); err != nil {
		t.Fatal(err)
	}
	return rep
}

func names(rep *Report) []string {
	var out []string
	for _, c := range rep.Checks {
		status := "PASS"
		if !c.Passed {
			status = "FAIL"
		}
		out = append(out, status+" "+c.Name)
	}
	return out
}

// Without smoke tests, the entrypoint runs once with the default
// arguments, must exit 0, and the report warns.
func TestDefaultRun(t *testing.T) {
	img := toolImage(t)
	rt := &fakeRT{}
	rep := check(t, rt, img, Options{DefaultArgs: []string{"--version"}})
	want := []string{"PASS config: non-root user 10001", "PASS config: entrypoint set", "PASS image: entrypoint is executable", "PASS default run: tool --version"}
	if got := names(rep); !slices.Equal(got, want) || rep.Failed() {
		t.Errorf("checks %q, want %q", got, want)
	}
	if rep.Checks[2].Detail != "/usr/local/bin/tool" {
		t.Errorf("entrypoint detail %q", rep.Checks[2].Detail)
	}
	wantWarn := `harden.yaml defines no smoke tests, so harden test only ran "tool --version" (arguments from test.defaultArgs) and checked that it exits 0; add smoke: tests that check what the image does`
	if !slices.Equal(rep.Warnings, []string{wantWarn}) {
		t.Errorf("warnings %q", rep.Warnings)
	}
	p := rt.procs[0]
	if len(rt.procs) != 1 || strings.Join(p.Args, " ") != "tool --version" || p.UID != 10001 || p.GID != 10001 || p.Cwd != "/" ||
		strings.Join(p.Env, " ") != "PATH=/usr/local/bin:/usr/bin LANG=C" || p.Stdin != "" || p.Timeout != config.DefaultSmokeTimeout {
		t.Errorf("processes %+v", rt.procs)
	}

	// A failing default run fails the report.
	rt = &fakeRT{out: func(Process) *Outcome { return &Outcome{ExitCode: 2, Stderr: "unknown option --version"} }}
	rep = check(t, rt, img, Options{DefaultArgs: []string{"--version"}})
	if c := rep.Checks[3]; c.Passed || c.Reason != "exit code 2, expected 0; stderr: unknown option --version" || !rep.Failed() {
		t.Errorf("failed default run: %+v", c)
	}

	// An image without PATH runs with the runtimes' default one.
	cf, _ := img.ConfigFile()
	cfg := cf.Config
	cfg.Env = []string{"LANG=C"}
	noPath, err := mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt = &fakeRT{}
	rep = check(t, rt, noPath, Options{DefaultArgs: []string{"--version"}})
	if rep.Failed() || len(rt.procs) != 1 || strings.Join(rt.procs[0].Env, " ") != "LANG=C PATH="+DefaultPath {
		t.Errorf("no PATH: %q %+v", names(rep), rt.procs)
	}

	// No default arguments: the entrypoint alone, without the image's cmd.
	rt = &fakeRT{}
	rep = check(t, rt, img, Options{DefaultArgs: []string{}})
	if len(rt.procs) != 1 || !slices.Equal(rt.procs[0].Args, []string{"tool"}) || rep.Checks[3].Name != "default run: tool" {
		t.Errorf("empty default args: %+v %q", rt.procs, names(rep))
	}
}

// An entrypoint that is not in the image fails with what was looked for,
// whether the runtime unpacked the image or not, and nothing runs.
func TestEntrypointNotInImage(t *testing.T) {
	img := toolImage(t, "nope", "--flag")
	root := t.TempDir()
	if err := Unpack(img, root); err != nil {
		t.Fatal(err)
	}
	for name, rt := range map[string]Runtime{"layers": &fakeRT{}, "rootfs": unpackedRT{&fakeRT{}, root}} {
		rep := check(t, rt, img, Options{DefaultArgs: []string{"--version"}})
		want := []string{"PASS config: non-root user 10001", "PASS config: entrypoint set", "FAIL image: entrypoint is executable"}
		if got := names(rep); !slices.Equal(got, want) {
			t.Errorf("%s: checks %q, want %q", name, got, want)
		}
		wantReason := `"nope" is not an executable file on PATH=/usr/local/bin:/usr/bin for uid 10001: /usr/local/bin/nope: no such file; /usr/bin/nope: no such file`
		if r := rep.Checks[2].Reason; r != wantReason {
			t.Errorf("%s: reason\n got %s\nwant %s", name, r, wantReason)
		}
		var procs []Process
		switch r := rt.(type) {
		case *fakeRT:
			procs = r.procs
		case unpackedRT:
			procs = r.procs
		}
		if len(procs) != 0 || len(rep.Warnings) != 1 {
			t.Errorf("%s: ran %+v, warnings %q", name, procs, rep.Warnings)
		}
	}
	// Absolute entrypoints are checked as they are.
	rep := check(t, &fakeRT{}, toolImage(t, "/usr/local/bin/tool"), Options{Tests: []config.SmokeTest{{Name: "x", Expect: config.Expect{ExitCode: 0}}}})
	if rep.Failed() || rep.Checks[2].Detail != "/usr/local/bin/tool" || len(rep.Warnings) != 0 {
		t.Errorf("absolute entrypoint: %+v", rep)
	}
}

// Smoke tests pass their stdin and environment to the process and are
// judged on stderr too.
func TestSmokeProcess(t *testing.T) {
	img := toolImage(t)
	rt := &fakeRT{out: func(p Process) *Outcome {
		return &Outcome{ExitCode: 1, Stdout: strings.ToUpper(p.Stdin), Stderr: "warning: " + strings.Join(p.Env, ",") + "\n"}
	}}
	tests := []config.SmokeTest{
		{Name: "reads stdin", Args: []string{"-"}, Stdin: "select 1;\n", Env: map[string]string{"LANG": "C.UTF-8", "TERM": "dumb"},
			Expect: config.Expect{ExitCode: 1, Stdout: "SELECT 1;", StderrContains: "LANG=C.UTF-8,TERM=dumb", StderrRegexp: `^warning: PATH=`}},
		{Name: "stderr exact", Entrypoint: []string{"id"}, Expect: config.Expect{ExitCode: 1, Stderr: "warning: PATH=/usr/local/bin:/usr/bin,LANG=C"}},
		{Name: "stderr mismatch", Expect: config.Expect{ExitCode: 1, StderrContains: "error"}},
	}
	rep := check(t, rt, img, Options{Tests: tests, DefaultArgs: []string{"--version"}})
	want := []string{"PASS config: non-root user 10001", "PASS config: entrypoint set", "PASS image: entrypoint is executable",
		"PASS smoke: reads stdin", "PASS smoke: stderr exact", "FAIL smoke: stderr mismatch"}
	if got := names(rep); !slices.Equal(got, want) {
		t.Errorf("checks %q, want %q (%+v)", got, want, rep.Checks)
	}
	if r := rep.Checks[5].Reason; r != `stderr "warning: PATH=/usr/local/bin:/usr/bin,LANG=C" does not contain "error"` {
		t.Errorf("mismatch reason %q", r)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings with smoke tests: %q", rep.Warnings)
	}
	p := rt.procs
	if strings.Join(p[0].Args, " ") != "tool -" || p[0].Stdin != "select 1;\n" || strings.Join(p[0].Env, " ") != "PATH=/usr/local/bin:/usr/bin LANG=C.UTF-8 TERM=dumb" {
		t.Errorf("first process %+v", p[0])
	}
	if strings.Join(p[1].Args, " ") != "id" || strings.Join(p[2].Args, " ") != "tool serve" || p[2].Stdin != "" {
		t.Errorf("processes %+v", p)
	}
}
