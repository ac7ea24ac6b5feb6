package pyenv

import (
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/layer"
)

func tree(t *testing.T, files map[string]string, links map[string]string) *layer.Tree {
	t.Helper()
	tr := layer.New()
	for p, d := range files {
		if strings.HasSuffix(p, "/") {
			if err := tr.AddDir(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tr.AddFile(p, 0o755, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		if err := tr.AddSymlink(p, target); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

const libc236 = "\x00GNU C Library (Debian GLIBC 2.36-9+deb12u7) stable release version 2.36.\x00"

func TestDetectDebian(t *testing.T) {
	fs := tree(t, map[string]string{
		"usr/bin/python3.11":                 "\x7fELF ... 3.11.2 (main, ...) 3.11.2 ...",
		"usr/lib/python3/dist-packages/":     "",
		"usr/lib/x86_64-linux-gnu/libc.so.6": libc236,
	}, map[string]string{"usr/bin/python3": "python3.11", "lib": "usr/lib"})
	e, err := Detect(fs, nil, "amd64", "", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	want := Env{Interpreter: "/usr/bin/python3.11", Version: "3.11.2", Major: 3, Minor: 11,
		Purelib: "/usr/local/lib/python3.11/dist-packages", Platlib: "/usr/local/lib/python3.11/dist-packages",
		Scripts: "/usr/local/bin", Data: "/usr/local", Headers: "/usr/local/include/python3.11",
		GlibcMajor: 2, GlibcMinor: 36, Arch: "x86_64"}
	if *e != want {
		t.Errorf("got  %+v\nwant %+v", *e, want)
	}
}

func TestDetectOfficialImage(t *testing.T) {
	fs := tree(t, map[string]string{
		"usr/local/bin/python3.12":               "small launcher",
		"usr/bin/python3.11":                     "distribution python, shadowed",
		"usr/lib/aarch64-linux-gnu/libc-2.31.so": "x",
	}, map[string]string{"usr/lib/aarch64-linux-gnu/libc.so.6": "libc-2.31.so"})
	e, err := Detect(fs, []string{"PATH=/usr/local/bin", "PYTHON_VERSION=3.12.8"}, "arm64", "v8", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Interpreter != "/usr/local/bin/python3.12" || e.Version != "3.12.8" || e.Purelib != "/usr/local/lib/python3.12/site-packages" ||
		e.Scripts != "/usr/local/bin" || e.GlibcMajor != 2 || e.GlibcMinor != 31 || e.Arch != "aarch64" {
		t.Errorf("got %+v", *e)
	}
}

func TestDetectDpkgVersionAndOverrides(t *testing.T) {
	fs := tree(t, map[string]string{
		"usr/bin/python3.11":                 "no version string here",
		"var/lib/dpkg/status":                "Package: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6+deb12u6\n\nPackage: zlib1g\nVersion: 1:1.2.13\n",
		"usr/lib/x86_64-linux-gnu/libc.so.6": libc236,
	}, nil)
	e, err := Detect(fs, nil, "amd64", "", Overrides{SitePackages: "/opt/app/site", Scripts: "/opt/app/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != "3.11.2" || e.Purelib != "/opt/app/site" || e.Scripts != "/opt/app/bin" || e.Data != "/usr" {
		t.Errorf("got %+v", *e)
	}
}

func TestDetectErrors(t *testing.T) {
	libc := map[string]string{"usr/lib/x86_64-linux-gnu/libc.so.6": libc236}
	cases := []struct {
		name  string
		files map[string]string
		links map[string]string
		o     Overrides
		arch  string
		want  string
	}{
		{"no python", libc, nil, Overrides{}, "amd64", "no Python interpreter"},
		{"musl", map[string]string{"usr/bin/python3.11": "3.11.2", "lib/ld-musl-x86_64.so.1": ""}, nil, Overrides{}, "amd64", "musl"},
		{"no libc", map[string]string{"usr/bin/python3.11": "3.11.2"}, nil, Overrides{}, "amd64", "glibc"},
		{"bad override", map[string]string{"usr/bin/python3.11": "3.11.2", "usr/lib/x86_64-linux-gnu/libc.so.6": libc236}, nil, Overrides{Interpreter: "/usr/bin/python3.9"}, "amd64", "not a file"},
		{"no version", map[string]string{"usr/bin/python3.11": "nothing", "usr/lib/x86_64-linux-gnu/libc.so.6": libc236}, nil, Overrides{}, "amd64", "full version"},
		{"arch", map[string]string{"usr/bin/python3.11": "3.11.2"}, nil, Overrides{}, "mips", "unsupported architecture"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Detect(tree(t, c.files, c.links), nil, c.arch, "", c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}
