package smoke

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/config"
)

// The fixture image, run for real: stdin, environment and stderr reach
// and leave the process under runc and chroot, the default run runs
// the entrypoint, and an entrypoint the image lacks fails before any run.
func TestFixtureImage(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds and runs the fixture image")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("HARDEN_REQUIRE_E2E") == "1" {
			t.Fatal("runc and chroot need root (HARDEN_REQUIRE_E2E=1)")
		}
		t.Skip("skipping: runc and chroot need root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("skipping: runc is not installed (apt-get install runc)")
	}
	res := buildtest.Build(t, buildtest.Options{})
	img, _, err := HostImage(res.Index)
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	ctx := context.Background()
	py := func(code string) []string { return []string{"python3", "-c", code} }
	tests := []config.SmokeTest{
		{Name: "stdin", Entrypoint: py("import sys; sys.stdout.write(sys.stdin.read()[::-1])"), Stdin: "select 1;",
			Expect: config.Expect{Stdout: ";1 tceles"}},
		{Name: "no stdin", Entrypoint: py("import sys; print(len(sys.stdin.read()))"), Expect: config.Expect{Stdout: "0"}},
		{Name: "env", Entrypoint: py("import os; print(os.environ['GREETING'], os.environ['LANG'], os.getuid())"),
			Env: map[string]string{"GREETING": "hello", "LANG": "C"}, Expect: config.Expect{Stdout: "hello C 10001"}},
		{Name: "stderr", Entrypoint: py("import sys; sys.stderr.write('oops: bad input\\n'); sys.exit(3)"),
			Expect: config.Expect{ExitCode: 3, Stderr: "oops: bad input", StderrContains: "bad", StderrRegexp: `^oops: .* input\n$`}},
		{Name: "stderr mismatch", Entrypoint: py("import sys; sys.stderr.write('fine\\n')"), Expect: config.Expect{StderrContains: "error"}},
		// The examples of docs/test.md.
		{Name: "sqlformat stdin", Entrypoint: []string{"sqlformat", "--reindent", "-"}, Stdin: "select a, b from t where a = 1;\n",
			Env: map[string]string{"LC_ALL": "C.UTF-8"}, Expect: config.Expect{StdoutRegexp: `(?m)^select a,$`}},
		{Name: "unknown option", Args: []string{"--no-such-option"}, Expect: config.Expect{ExitCode: 2, StderrContains: "No such option"}},
	}
	// One unpack serves both runtimes: chroot runs in runc's rootfs.
	rc, err := newRunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Prepare(ctx, img); err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for name, rt := range map[string]Runtime{"runc": rc, "chroot": &chrootRT{dir: rc.rootfs}} {
		t.Run(name, func(t *testing.T) {
			if rt.Name() != name {
				t.Fatalf("runtime %s", rt.Name())
			}
			rep := runFixture(t, rt, img, nil, Options{Tests: tests})
			want := []string{"PASS config: non-root user 10001", "PASS config: entrypoint set", "PASS image: entrypoint is executable",
				"PASS smoke: stdin", "PASS smoke: no stdin", "PASS smoke: env", "PASS smoke: stderr", "FAIL smoke: stderr mismatch",
				"PASS smoke: sqlformat stdin", "PASS smoke: unknown option"}
			if got := names(rep); !slices.Equal(got, want) {
				t.Errorf("checks %q, want %q\n%+v", got, want, rep.Checks)
			}
			if r := rep.Checks[7].Reason; r != `stderr "fine" does not contain "error"` {
				t.Errorf("mismatch reason %q", r)
			}
			if d := rep.Checks[2].Detail; !strings.HasSuffix(d, "/pgcli") {
				t.Errorf("entrypoint found at %q", d)
			}
			if name != "runc" {
				return
			}
			// No smoke tests: the entrypoint runs once, with the image's
			// own or a derived one (sqlparse's console script is in the
			// fixture image too).
			for _, ep := range []string{"pgcli", "sqlformat"} {
				rep := runFixture(t, rt, img, []string{ep}, Options{DefaultArgs: []string{"--version"}})
				c := rep.Checks[len(rep.Checks)-1]
				if c.Name != "default run: "+ep+" --version" || !c.Passed || c.Stdout == "" || len(rep.Warnings) != 1 || rep.Failed() {
					t.Errorf("default run of %s: %+v, warnings %q", ep, rep.Checks, rep.Warnings)
				}
			}
			// Entrypoints that cannot run: nothing runs, the check says why.
			for ep, reason := range map[string]string{
				"nope":        `"nope" is not an executable file on PATH=`,
				"/etc/passwd": `"/etc/passwd" cannot be executed: /etc/passwd: is not executable by uid 10001 (mode 0644, owner 0:0)`,
				"/usr":        `"/usr" cannot be executed: /usr: is a directory`,
			} {
				rep := runFixture(t, rt, img, []string{ep}, Options{DefaultArgs: []string{"--version"}})
				if got := names(rep); !slices.Equal(got, []string{"PASS config: non-root user 10001", "PASS config: entrypoint set", "FAIL image: entrypoint is executable"}) ||
					!strings.HasPrefix(rep.Checks[2].Reason, reason) {
					t.Errorf("entrypoint %s: %q %q", ep, got, rep.Checks[2].Reason)
				}
			}
		})
	}
}

// runFixture runs o's checks with the prepared rt, with the image's
// entrypoint replaced by entrypoint when given.
func runFixture(t *testing.T, rt Runtime, img v1.Image, entrypoint []string, o Options) *Report {
	t.Helper()
	rep, cf, uid, gid, err := checkConfig(img, "linux/amd64", 10001)
	if err != nil || uid != 10001 {
		t.Fatalf("config: %v %+v", err, rep)
	}
	if entrypoint != nil {
		cf = cf.DeepCopy()
		cf.Config.Entrypoint = entrypoint
	}
	if err := runChecks(context.Background(), rt, img, cf, rep, user{uid, gid}, o); err != nil {
		t.Fatal(err)
	}
	return rep
}
