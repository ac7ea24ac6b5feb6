package pep740

import (
	"strings"
	"testing"
)

func TestSameDistribution(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"pgcli-3.5.0-py2.py3-none-any.whl", "pgcli-3.5.0-py2.py3-none-any.whl", true},
		{"prompt_toolkit-3.0.36-py3-none-any.whl", "Prompt.Toolkit-3.0.36-py3-none-any.whl", true},
		{"foo-1.0-py3-none-any.whl", "foo-1.0.0-py3-none-any.whl", true},
		{"foo-1.0-py3-none-any.whl", "foo-v1.0-py3-none-any.whl", true},
		{"foo-1.0-py2.py3-none-any.whl", "foo-1.0-py3.py2-none-any.whl", true},
		{"foo-1.0-py2.py3-none-any.whl", "foo-1.0-PY3.py2-NONE-ANY.whl", true},
		{"foo-1.0-1-py3-none-any.whl", "foo-1.0-01-py3-none-any.whl", true},
		{"foo-1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "foo-1.0-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", true},
		{"foo-1.0-py3-none-any.whl", "foo-1.1-py3-none-any.whl", false},
		{"foo-1.0-py3-none-any.whl", "bar-1.0-py3-none-any.whl", false},
		{"foo-1.0-py3-none-any.whl", "foo-1.0-py2.py3-none-any.whl", false},
		{"foo-1.0-py3-none-any.whl", "foo-1.0-1-py3-none-any.whl", false},
		{"foo-1.0-1a-py3-none-any.whl", "foo-1.0-1b-py3-none-any.whl", false},
		{"foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "foo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl", false},
		{"foo-1.0+local-py3-none-any.whl", "foo-1.0-py3-none-any.whl", false},
		{"foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz", false},
		{"Foo_Bar-2.0.tar.gz", "foo-bar-2.0.0.tar.gz", true},
		{"foo-bar-2.0.tar.gz", "foo-bar-2.1.tar.gz", false},
		{"foo-2.0.zip", "foo-2.0.tar.gz", true}, // both parse to (foo, 2.0), as pypi-attestations parses them
	}
	for _, c := range cases {
		got, err := SameDistribution(c.a, c.b)
		if err != nil {
			t.Errorf("%s ~ %s: %v", c.a, c.b, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s ~ %s = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestParseDistFilenameRejects(t *testing.T) {
	cases := map[string]string{
		"foo-1.0.egg":                "is not a wheel (.whl) or sdist",
		"foo-1.0.tar.bz2":            "is not a wheel (.whl) or sdist",
		"foo-1.0-py3-none.whl":       "not a valid wheel filename",
		"foo-1.0-x-py3-none-any.whl": "must start with a digit",
		"foo-one-py3-none-any.whl":   "bad version",
		"foo.tar.gz":                 "expected {name}-{version}.tar.gz",
		"foo-.tar.gz":                "expected {name}-{version}.tar.gz",
		"foo-1.0/x.tar.gz":           "not a plain file name",
		"foo-abc.tar.gz":             "bad version",
		"":                           "is not a wheel (.whl) or sdist",
	}
	for fn, want := range cases {
		_, err := parseDistFilename(fn)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", fn, err, want)
		}
	}
	if _, err := SameDistribution("foo-1.0.tar.gz", "foo.egg"); err == nil {
		t.Error("SameDistribution accepted an egg")
	}
}
