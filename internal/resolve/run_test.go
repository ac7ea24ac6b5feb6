package resolve

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
)

const testConfig = `name: app
version: 1.0.0
repository: ghcr.io/example/app
base: python:3.11-slim-bookworm@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
platforms: [linux/amd64, linux/arm64]
`

// TestRunFirstLockOffline locks a project that has no lock yet from a
// wheel dir, with the base described by flags, then locks again.
func TestRunFirstLockOffline(t *testing.T) {
	wheelDir, proj := t.TempDir(), t.TempDir()
	newIndex(t, false, wheelDir, universe...)
	cfgPath := filepath.Join(proj, "harden.yaml")
	if err := os.WriteFile(cfgPath, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "requirements.in"), []byte(universeIn), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := Params{ConfigPath: cfgPath, WheelDir: wheelDir, CacheDir: t.TempDir(), PythonVersion: "3.11.2", Glibc: "2.36"}
	rep, err := Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(proj, "requirements.lock")
	if !rep.Written || rep.Path != lockPath || rep.Packages != 8 || len(rep.Changes) != 8 || rep.Changes[0].String() != "+ app 1.0" {
		t.Fatalf("report %+v", rep)
	}
	first, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := lock.Parse(bytes.NewReader(first), lockPath)
	if err != nil || len(lf.Requirements) != 8 {
		t.Fatalf("written lock: %v", err)
	}
	if m := lf.Requirements[6]; m.Key != "plat-x86" || m.Marker != `platform_machine == "x86_64"` {
		t.Errorf("plat-x86 pin %+v", m)
	}

	// Again: nothing changes, byte for byte.
	rep, err = Run(ctx, p)
	if err != nil || len(rep.Changes) != 0 {
		t.Fatalf("relock: %+v %v", rep, err)
	}
	if again, _ := os.ReadFile(lockPath); !bytes.Equal(again, first) {
		t.Errorf("relock changed the file:\n%s", again)
	}

	// A dry run reports the lock and leaves the file alone.
	if err := os.WriteFile(lockPath, []byte("# edited\n"+string(first)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.DryRun = true
	rep, err = Run(ctx, p)
	if err != nil || rep.Written || rep.Lock != string(first) {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	if b, _ := os.ReadFile(lockPath); !strings.HasPrefix(string(b), "# edited\n") {
		t.Error("dry run wrote the lock")
	}
}

func TestRunInputErrors(t *testing.T) {
	proj := t.TempDir()
	cfgPath := filepath.Join(proj, "harden.yaml")
	if err := os.WriteFile(cfgPath, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		p    Params
		want string
	}{
		{"no requirements.in", Params{ConfigPath: cfgPath, PythonVersion: "3.11.2", Glibc: "2.36"}, "requirements file " + filepath.Join(proj, "requirements.in") + " does not exist"},
		{"glibc alone", Params{ConfigPath: cfgPath, Glibc: "2.36"}, "--python-version and --glibc go together"},
		{"bad glibc", Params{ConfigPath: cfgPath, PythonVersion: "3.11.2", Glibc: "two"}, `--glibc "two"`},
		{"no config", Params{ConfigPath: filepath.Join(proj, "nope.yaml")}, "nope.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name != "no requirements.in" {
				if err := os.WriteFile(filepath.Join(proj, "requirements.in"), []byte("app\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				defer os.Remove(filepath.Join(proj, "requirements.in"))
			}
			_, err := Run(ctx, c.p)
			if err == nil || !strings.Contains(err.Error(), c.want) || errs.ExitCode(err) != errs.CodeInput {
				t.Errorf("error %v (exit %d), want one with %q (exit 2)", err, errs.ExitCode(err), c.want)
			}
		})
	}
}
