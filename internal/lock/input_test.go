package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseInput(t *testing.T) {
	text := `# Top-level intent for the pgcli image.
--index-url https://pypi.org/simple
pgcli==4.3.0
psycopg[Binary, pool] >= 3.1, <4 ; python_version >= "3.8"  # the driver
click ~= 8.1 \
    ; sys_platform != "win32"
Pygments
setproctitle (>=1.3)
tzdata===2024.2
prompt_toolkit==3.0.*
`
	in, err := ParseInput(strings.NewReader(text), "image/requirements.in")
	if err != nil {
		t.Fatal(err)
	}
	want := []InputRequirement{
		{Name: "pgcli", Key: "pgcli", Specifier: "==4.3.0", Line: 3},
		{Name: "psycopg", Key: "psycopg", Extras: []string{"binary", "pool"}, Specifier: ">=3.1,<4", Marker: `python_version >= "3.8"`, Line: 4},
		{Name: "click", Key: "click", Specifier: "~=8.1", Marker: `sys_platform != "win32"`, Line: 5},
		{Name: "Pygments", Key: "pygments", Line: 7},
		{Name: "setproctitle", Key: "setproctitle", Specifier: ">=1.3", Line: 8},
		{Name: "tzdata", Key: "tzdata", Specifier: "===2024.2", Line: 9},
		{Name: "prompt_toolkit", Key: "prompt-toolkit", Specifier: "==3.0.*", Line: 10},
	}
	if !reflect.DeepEqual(in.Requirements, want) {
		t.Errorf("requirements:\n got %#v\nwant %#v", in.Requirements, want)
	}
	if in.Path != "image/requirements.in" || in.IndexURL != "https://pypi.org/simple" {
		t.Errorf("input: %+v", in)
	}
	if r, ok := in.Lookup("Prompt-Toolkit"); !ok || r.Line != 10 {
		t.Errorf("Lookup: %v %v", r, ok)
	}
	empty, err := ParseInput(strings.NewReader("# nothing yet\n"), "r.in")
	if err != nil || len(empty.Requirements) != 0 {
		t.Errorf("comment-only input: %+v %v", empty, err)
	}
}

func TestParseInputRefuses(t *testing.T) {
	for _, c := range []struct {
		name, text string
		line       int
		contains   []string
	}{
		{"include", "pgcli\n-r base.in\n", 2, []string{"includes are not allowed in requirements.in", "list the requirements in this file"}},
		{"constraint", "-c constraints.txt\n", 1, []string{"includes are not allowed"}},
		{"editable", "-e .\n", 1, []string{"editable", "wheels only"}},
		{"URL", "pgcli @ https://example.test/pgcli-4.3.0.tar.gz\n", 1, []string{"is an sdist/archive; harden installs wheels only"}},
		{"path", "../pgcli\n", 1, []string{"URL or path requirement"}},
		{"hash", "pgcli==4.3.0 --hash=sha256:" + hA + "\n", 1, []string{"not allowed after a requirement in requirements.in", "harden lock"}},
		{"bad version", "pgcli>=four\n", 1, []string{"not a PEP 440 version", "PEP 440 specifiers"}},
		{"wildcard with >=", "pgcli>=4.*\n", 1, []string{"wildcards are allowed only with == and !="}},
		{"compatible with one segment", "pgcli~=4\n", 1, []string{"at least two release segments"}},
		{"local with >=", "torch>=2.4+cpu\n", 1, []string{"local version"}},
		{"bad operator", "pgcli=>4\n", 1, []string{"malformed version specifier"}},
		{"bad marker", "pgcli ; python_version >= 3\n", 1, []string{"bad marker"}},
		{"duplicate", "pgcli\nclick\nPGCLI>=4\n", 3, []string{"PGCLI is listed twice (first at line 1)", "merge"}},
		{"unknown option", "--frobnicate\n", 1, []string{"unknown option"}},
		{"continued line", "pgcli \\\n  >=four\n", 1, []string{"not a PEP 440 version"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseInput(strings.NewReader(c.text), "image/requirements.in")
			if err == nil {
				t.Fatal("accepted")
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != c.line {
				t.Fatalf("want a *ParseError at line %d, got %v", c.line, err)
			}
			if prefix := fmt.Sprintf("image/requirements.in:%d: ", c.line); !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("message lacks prefix %q: %v", prefix, err)
			}
			for _, s := range c.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message lacks %q: %v", s, err)
				}
			}
		})
	}
}

func TestParseInputFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "requirements.in")
	if err := os.WriteFile(p, []byte("pgcli==4.3.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := ParseInputFile(p)
	if err != nil || len(in.Requirements) != 1 || in.Path != p {
		t.Fatalf("%+v %v", in, err)
	}
	if _, err := ParseInputFile(p + ".missing"); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
