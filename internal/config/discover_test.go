package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
)

func TestDiscover(t *testing.T) {
	touch := func(t *testing.T, p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(minimal), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvConfig {
				return v
			}
			return ""
		}
	}
	cases := []struct {
		name  string
		files []string
		env   string
		want  string // relative to dir; "" = error
	}{
		{"root file wins over image/", []string{"harden.yaml", "image/harden.yaml"}, "", "harden.yaml"},
		{"image/ when no root file", []string{"image/harden.yaml"}, "", "image/harden.yaml"},
		{"env wins over both", []string{"harden.yaml", "image/harden.yaml", "other/x.yaml"}, "other/x.yaml", "other/x.yaml"},
		{"env that names nothing", []string{"harden.yaml"}, "missing.yaml", ""},
		{"nothing", nil, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				touch(t, filepath.Join(dir, f))
			}
			got, err := Discover(env(tc.env), dir)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("found %s, want an error", got)
				}
				if errs.ExitCode(err) != 2 {
					t.Errorf("exit %d, want 2: %v", errs.ExitCode(err), err)
				}
				var ce *Error
				if !errors.As(err, &ce) || !errors.Is(ce.Err, fs.ErrNotExist) {
					t.Errorf("%v is not a *config.Error wrapping fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, tc.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestDiscoverMessages(t *testing.T) {
	dir := t.TempDir()
	_, err := Discover(func(string) string { return "" }, dir)
	want := `no harden.yaml found: $HARDEN_CONFIG is not set and neither ./harden.yaml nor ./image/harden.yaml exists; ` +
		`run "harden init REQUIREMENT" to create one here, or name one with --config or $HARDEN_CONFIG`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	abs := filepath.Join(dir, "nope.yaml")
	_, err = Discover(func(string) string { return abs }, "/elsewhere")
	want = abs + `: no such file (named by $HARDEN_CONFIG); point $HARDEN_CONFIG at the image's harden.yaml, or unset it to search harden.yaml and image/harden.yaml`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	// A directory where the file should be is named, not skipped.
	if err := os.Mkdir(filepath.Join(dir, "harden.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Discover(func(string) string { return "" }, dir)
	if err == nil || err.Error() != filepath.Join(dir, "harden.yaml")+": is a directory; name the harden.yaml inside it" || errs.ExitCode(err) != 2 {
		t.Errorf("directory: %v", err)
	}
	// "." gives the relative paths commands print.
	t.Chdir(dir)
	if err := os.Remove("harden.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("image", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(DefaultPath, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Discover(func(string) string { return "" }, "."); err != nil || got != DefaultPath {
		t.Errorf("Discover(.) = %q, %v; want %s", got, err, DefaultPath)
	}
}
