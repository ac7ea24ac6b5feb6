package wheel

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMetadata(t *testing.T) {
	in := "Metadata-Version: 2.1\r\n" +
		"Name: prompt_toolkit\r\n" +
		"Version: 3.0.36\r\n" +
		"Summary: Library for building powerful\r\n" +
		"  interactive command lines\r\n" +
		"Requires-Python: >=3.6.2\r\n" +
		"Requires-Dist: wcwidth\r\n" +
		"requires-dist: pygments (>=2.0) ; extra == 'highlight'\r\n" +
		"Requires-Dist: foo[bar,\r\n" +
		"\tbaz] >=1\r\n" +
		"Provides-Extra: highlight\r\n" +
		"Provides-Extra: docs\r\n" +
		"\r\n" +
		"Name: not-a-header-this-is-the-body\r\n" +
		"Requires-Dist: evil\r\n"
	m, err := ParseMetadata([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &Metadata{
		Name: "prompt_toolkit", Version: "3.0.36", RequiresPython: ">=3.6.2",
		RequiresDist:  []string{"wcwidth", "pygments (>=2.0) ; extra == 'highlight'", "foo[bar, baz] >=1"},
		ProvidesExtra: []string{"highlight", "docs"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
}

func TestParseMetadataErrors(t *testing.T) {
	for in, want := range map[string]string{
		"Version: 1.0\n":                       "missing Name",
		"Name: x\n":                            "missing Version",
		"Name: x\nName: y\nVersion: 1\n":       "Name given twice",
		" Name: x\n":                           "continuation line before any field",
		"Name: x\nnot a header\nVersion: 1\n":  "missing Version",
		"Name: -bad-\nVersion: 1\n":            "invalid Name",
		"Name: x\nVersion: 1 0\n":              "invalid Version",
		"Name: x\nVersion: 1\nSummary: \xff\n": "not valid UTF-8",
		"":                                     "missing Name",
	} {
		_, err := ParseMetadata([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want error containing %q", in, err, want)
		}
	}
}

func TestParseEntryPoints(t *testing.T) {
	in := `# comment
[console_scripts]
pgcli = pgcli.main:cli
pip3.11=pip._internal.cli.main:main

; another comment
[gui_scripts]
viewer = pkg.gui:App.run [gui, extra2]

[distutils.commands]
bdist_wheel = wheel.bdist_wheel:bdist_wheel
[console_scripts]
second = pkg
`
	got, err := ParseEntryPoints([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"console_scripts":    {"pgcli": "pgcli.main:cli", "pip3.11": "pip._internal.cli.main:main", "second": "pkg"},
		"gui_scripts":        {"viewer": "pkg.gui:App.run [gui, extra2]"},
		"distutils.commands": {"bdist_wheel": "wheel.bdist_wheel:bdist_wheel"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for in, msg := range map[string]string{
		"x = y\n":             "outside any [section]",
		"[a\nx = y\n":         "bad section header",
		"[]\n":                "bad section header",
		"[ ]\n":               "empty section name",
		"[a]\nnovalue\n":      "expected \"name = value\"",
		"[a]\n= y\n":          "expected \"name = value\"",
		"[a]\nx =\n":          "expected \"name = value\"",
		"[a]\nx = y\nx = z\n": "defined twice",
		"[a]\nx = \xff\n":     "not valid UTF-8",
	} {
		if _, err := ParseEntryPoints([]byte(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want %q", in, err, msg)
		}
	}
}

func TestParseEntryPointValue(t *testing.T) {
	for in, want := range map[string]entryPoint{
		"pgcli.main:cli":          {module: "pgcli.main", attrs: []string{"cli"}},
		"pkg.gui : App.run [gui]": {module: "pkg.gui", attrs: []string{"App", "run"}},
		"pkg.__main__":            {module: "pkg.__main__"},
		"_x:_y":                   {module: "_x", attrs: []string{"_y"}},
		"café:naïve":              {module: "café", attrs: []string{"naïve"}},
	} {
		got, err := parseEntryPointValue(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", ":main", "pkg:", "pkg:a..b", "1pkg:main", "pkg:main()", "pkg:class", "os; import x:y",
		"pkg:main [x", "pkg:main [x y]", "pkg/evil:main", "pkg:main\nimport os", "pkg.:x", "pkg:x.", "a b:c"} {
		if ep, err := parseEntryPointValue(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, ep)
		}
	}
}

func TestParseRecord(t *testing.T) {
	in := "pkg/__init__.py,sha256=AAAA,10\n" +
		"\"pkg/with,comma.py\",sha256=BBBB,0\n" +
		"\n" +
		"pkg-1.0.dist-info/RECORD,,\n"
	got, err := ParseRecord([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []RecordEntry{
		{Path: "pkg/__init__.py", Hash: "sha256=AAAA", Size: 10},
		{Path: "pkg/with,comma.py", Hash: "sha256=BBBB", Size: 0},
		{Path: "pkg-1.0.dist-info/RECORD", Hash: "", Size: -1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for in, msg := range map[string]string{
		"a,sha256=x\n":        "expected 3 fields",
		"a,sha256=x,1,2\n":    "expected 3 fields",
		"a,sha256=x,-1\n":     "bad size",
		"a,sha256=x,ten\n":    "bad size",
		"a,sha256,1\n":        "not algorithm=digest",
		"a,=abc,1\n":          "not algorithm=digest",
		",sha256=x,1\n":       "empty path",
		"\"a,sha256=x,1\n":    "RECORD",
		"ok,,\nb,sha256=,1\n": "line 2",
	} {
		if _, err := ParseRecord([]byte(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want %q", in, err, msg)
		}
	}
}
