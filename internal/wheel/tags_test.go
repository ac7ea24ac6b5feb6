package wheel

import (
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseFilename(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		version string
		build   string
		tags    []string
	}{
		{"prompt_toolkit-3.0.36-py3-none-any.whl", "prompt_toolkit", "3.0.36", "", []string{"py3-none-any"}},
		{"six-1.16.0-py2.py3-none-any.whl", "six", "1.16.0", "", []string{"py2-none-any", "py3-none-any"}},
		{"psycopg_binary-3.1.18-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "psycopg_binary", "3.1.18", "",
			[]string{"cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"}},
		{"foo-1.0-1-py3-none-any.whl", "foo", "1.0", "1", []string{"py3-none-any"}},
		{"foo-1.0-12abc-py2.py3-none.abi3-any.whl", "foo", "1.0", "12abc",
			[]string{"py2-none-any", "py2-abi3-any", "py3-none-any", "py3-abi3-any"}},
		{"Django-4.2.1+local.1-PY3-None-Any.whl", "Django", "4.2.1+local.1", "", []string{"py3-none-any"}},
		{"zope.interface-6.0-cp311-cp311-manylinux_2_36_x86_64.whl", "zope.interface", "6.0", "", []string{"cp311-cp311-manylinux_2_36_x86_64"}},
		{"x-1!2.0-py3-none-any.whl", "x", "1!2.0", "", []string{"py3-none-any"}},
	}
	for _, tc := range tests {
		f, err := ParseFilename(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		var tags []string
		for _, tg := range f.Tags {
			tags = append(tags, tg.String())
		}
		if f.Name != tc.name || f.Version != tc.version || f.Build != tc.build || f.Raw != tc.in || !reflect.DeepEqual(tags, tc.tags) {
			t.Errorf("%s: got %+v tags %v", tc.in, f, tags)
		}
	}
}

func TestParseFilenameErrors(t *testing.T) {
	tests := map[string]string{
		"pgcli-3.5.0.tar.gz":                   "is an sdist; harden installs wheels only",
		"pgcli-3.5.0.zip":                      "is an sdist; harden installs wheels only",
		"pgcli-3.5.0.tar.bz2":                  "is an sdist",
		"foo-1.0-py2.7.egg":                    "is an egg",
		"foo-1.0-py3-none-any.WHL":             "does not end in .whl",
		"foo.whl":                              "expected {name}",
		"foo-1.0-py3-none.whl":                 "expected {name}",
		"foo-1.0-1-2-py3-none-any.whl":         "expected {name}",
		"foo-1.0-abc-py3-none-any.whl":         "must start with a digit",
		"foo-1.0-py3--any.whl":                 "bad tag",
		"foo-1.0-py3-none-any..x.whl":          "bad tag",
		"foo-1.0-py3-none-any$.whl":            "bad tag",
		"-1.0-py3-none-any.whl":                "bad distribution name",
		"foo--py3-none-any.whl":                "bad version",
		"dir/foo-1.0-py3-none-any.whl":         "plain file name",
		"..\\foo-1.0-py3-none-any.whl":         "plain file name",
		"fo\x00o-1.0-py3-none-any.whl":         "plain file name",
		"foo-1.0 beta-py3-none-any.whl":        "bad version",
		"foo_-1.0-py3-none-any.whl":            "bad distribution name",
		"foo-1.0-py3-none-manylinux 1.whl":     "bad tag",
		"foo-1.0-1_-py3-none-any.whl":          "must start with a digit",
		"foo-1.0-py3-none-any.whl.tar.gz":      "is an sdist",
		"foo-1.0-py3-none-any.whl.partial":     "does not end in .whl",
		"foo-1.0-py3-none-any-extra-x.whl":     "expected {name}",
		"foo-1.0-cp311-cp311-linux_x86-64.whl": "must start with a digit",
	}
	for in, want := range tests {
		_, err := ParseFilename(in)
		if err == nil {
			t.Errorf("%q: parsed, want error containing %q", in, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %q, want it to contain %q", in, err, want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"prompt_toolkit": "prompt-toolkit",
		"Prompt-Toolkit": "prompt-toolkit",
		"zope.interface": "zope-interface",
		"a__b-._c":       "a-b-c",
		"PyYAML":         "pyyaml",
		"pgcli":          "pgcli",
	} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

var amd64 = Target{PythonMajor: 3, PythonMinor: 11, Implementation: "cp", Arch: "x86_64", GlibcMajor: 2, GlibcMinor: 36}

func tagStrings(ts []Tag) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// A small target spells out the whole order.
func TestTagsFullOrder(t *testing.T) {
	tg := Target{PythonMajor: 3, PythonMinor: 3, Implementation: "cp", Arch: "x86_64", GlibcMajor: 2, GlibcMinor: 6}
	p := []string{"manylinux_2_6_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"}
	var want []string
	add := func(py, abi string) {
		for _, pl := range p {
			want = append(want, py+"-"+abi+"-"+pl)
		}
	}
	add("cp33", "cp33m")
	add("cp33", "abi3")
	add("cp33", "none")
	add("cp32", "abi3")
	for _, py := range []string{"py33", "py3", "py32", "py31", "py30"} {
		add(py, "none")
	}
	want = append(want, "cp33-none-any", "py33-none-any", "py3-none-any", "py32-none-any", "py31-none-any", "py30-none-any")
	if got := tagStrings(tg.Tags()); !reflect.DeepEqual(got, want) {
		t.Errorf("tags:\n got %v\nwant %v", got, want)
	}
}

func TestTagsOrderProperties(t *testing.T) {
	tags := tagStrings(amd64.Tags())
	pos := map[string]int{}
	for i, s := range tags {
		if _, dup := pos[s]; dup {
			t.Errorf("duplicate tag %s", s)
		}
		pos[s] = i
	}
	if tags[0] != "cp311-cp311-manylinux_2_36_x86_64" {
		t.Errorf("first tag %s", tags[0])
	}
	if tags[len(tags)-1] != "py30-none-any" {
		t.Errorf("last tag %s", tags[len(tags)-1])
	}
	before := [][2]string{
		{"cp311-cp311-manylinux_2_36_x86_64", "cp311-cp311-manylinux_2_35_x86_64"},
		{"cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"},
		{"cp311-cp311-manylinux2014_x86_64", "cp311-cp311-manylinux_2_16_x86_64"},
		{"cp311-cp311-manylinux_2_12_x86_64", "cp311-cp311-manylinux2010_x86_64"},
		{"cp311-cp311-manylinux_2_5_x86_64", "cp311-cp311-manylinux1_x86_64"},
		{"cp311-cp311-manylinux1_x86_64", "cp311-abi3-manylinux_2_36_x86_64"},
		{"cp311-abi3-manylinux1_x86_64", "cp311-none-manylinux_2_36_x86_64"},
		{"cp311-none-manylinux1_x86_64", "cp310-abi3-manylinux_2_36_x86_64"},
		{"cp38-abi3-manylinux1_x86_64", "cp32-abi3-manylinux_2_36_x86_64"},
		{"cp32-abi3-manylinux1_x86_64", "py311-none-manylinux_2_36_x86_64"},
		{"py311-none-manylinux1_x86_64", "py3-none-manylinux_2_36_x86_64"},
		{"py30-none-manylinux1_x86_64", "cp311-none-any"},
		{"cp311-none-any", "py311-none-any"},
		{"py311-none-any", "py3-none-any"},
		{"py3-none-any", "py310-none-any"},
	}
	for _, b := range before {
		i, ok1 := pos[b[0]]
		j, ok2 := pos[b[1]]
		if !ok1 || !ok2 || i >= j {
			t.Errorf("want %s (%d,%v) before %s (%d,%v)", b[0], i, ok1, b[1], j, ok2)
		}
	}
	for _, absent := range []string{"cp311-cp311-manylinux_2_37_x86_64", "cp311-cp311-manylinux_2_4_x86_64", "cp311-cp311-linux_x86_64",
		"cp311-cp311-musllinux_1_2_x86_64", "cp311-cp311-manylinux_2_17_aarch64", "cp312-cp312-manylinux_2_17_x86_64", "cp31-abi3-manylinux1_x86_64"} {
		if _, ok := pos[absent]; ok {
			t.Errorf("unexpected tag %s", absent)
		}
	}
}

func TestTagsAarch64AndUnknownGlibc(t *testing.T) {
	arm := amd64
	arm.Arch = "aarch64"
	tags := tagStrings(arm.Tags())
	if tags[0] != "cp311-cp311-manylinux_2_36_aarch64" {
		t.Errorf("first %s", tags[0])
	}
	joined := strings.Join(tags, " ")
	if !strings.Contains(joined, "cp311-cp311-manylinux2014_aarch64") || strings.Contains(joined, "manylinux_2_16_aarch64") ||
		strings.Contains(joined, "manylinux2010_aarch64") || strings.Contains(joined, "manylinux1_aarch64") || strings.Contains(joined, "x86_64") {
		t.Errorf("aarch64 platforms wrong: %v", tags)
	}
	if goName := (Target{PythonMajor: 3, PythonMinor: 11, Arch: "arm64", GlibcMajor: 2, GlibcMinor: 36}).Tags(); goName[0].String() != "cp311-cp311-manylinux_2_36_aarch64" {
		t.Errorf("arm64 not mapped: %v", goName[0])
	}
	unknown := Target{PythonMajor: 3, PythonMinor: 11, Implementation: "cp", Arch: "x86_64"}
	for _, tg := range unknown.Tags() {
		if tg.Platform != "any" {
			t.Errorf("unknown glibc gives platform tag %s", tg)
		}
	}
	if n := len(unknown.Tags()); n != 1+13 {
		t.Errorf("unknown glibc: %d tags: %v", n, unknown.Tags())
	}
	if (Target{}).Tags() != nil {
		t.Error("zero target has tags")
	}
}

func mustParse(t *testing.T, names ...string) []Filename {
	t.Helper()
	var out []Filename
	for _, n := range names {
		f, err := ParseFilename(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestSelect(t *testing.T) {
	arm := amd64
	arm.Arch = "aarch64"
	tests := []struct {
		name   string
		target Target
		files  []string
		want   string // "" = none
	}{
		{"manylinux over pure", amd64, []string{
			"psycopg_binary-3.1-py3-none-any.whl",
			"psycopg_binary-3.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		}, "psycopg_binary-3.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"},
		{"too new glibc, musl, wrong arch, wrong python", amd64, []string{
			"x-1-cp311-cp311-manylinux_2_38_x86_64.whl",
			"x-1-cp311-cp311-musllinux_1_1_x86_64.whl",
			"x-1-cp311-cp311-manylinux_2_17_aarch64.whl",
			"x-1-cp312-cp312-manylinux_2_17_x86_64.whl",
			"x-1-cp311-cp311-linux_x86_64.whl",
			"x-1-cp311-cp311-win_amd64.whl",
		}, ""},
		{"abi3 from cp38", amd64, []string{"x-1-cp38-abi3-manylinux_2_17_x86_64.whl", "x-1-cp312-abi3-manylinux_2_17_x86_64.whl"}, "x-1-cp38-abi3-manylinux_2_17_x86_64.whl"},
		{"abi3 beats pure", amd64, []string{"x-1-py3-none-any.whl", "x-1-cp38-abi3-manylinux2014_x86_64.whl"}, "x-1-cp38-abi3-manylinux2014_x86_64.whl"},
		{"newer glibc tag preferred", amd64, []string{"x-1-cp311-cp311-manylinux_2_17_x86_64.whl", "x-1-cp311-cp311-manylinux_2_28_x86_64.whl"}, "x-1-cp311-cp311-manylinux_2_28_x86_64.whl"},
		{"aarch64 target", arm, []string{
			"x-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			"x-1-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
			"x-1-py3-none-any.whl",
		}, "x-1-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"},
		{"aarch64 has no manylinux1", arm, []string{"x-1-cp311-cp311-manylinux1_aarch64.whl"}, ""},
		{"legacy manylinux1", amd64, []string{"x-1-cp311-cp311-manylinux1_x86_64.whl", "x-1-py2.py3-none-any.whl"}, "x-1-cp311-cp311-manylinux1_x86_64.whl"},
		{"higher build tag wins a tie", amd64, []string{"x-1-2-py3-none-any.whl", "x-1-10-py3-none-any.whl", "x-1-py3-none-any.whl"}, "x-1-10-py3-none-any.whl"},
		{"py2 only", amd64, []string{"x-1-py2-none-any.whl"}, ""},
		{"cp311 pure", amd64, []string{"x-1-py3-none-any.whl", "x-1-cp311-none-any.whl"}, "x-1-cp311-none-any.whl"},
	}
	for _, tc := range tests {
		got, ok := tc.target.Select(mustParse(t, tc.files...))
		if tc.want == "" {
			if ok {
				t.Errorf("%s: selected %s, want none", tc.name, got.Raw)
			}
			continue
		}
		if !ok || got.Raw != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.name, got.Raw, ok, tc.want)
		}
		// The order of the candidates must not matter.
		files := mustParse(t, tc.files...)
		for i, j := 0, len(files)-1; i < j; i, j = i+1, j-1 {
			files[i], files[j] = files[j], files[i]
		}
		if again, _ := tc.target.Select(files); again.Raw != got.Raw {
			t.Errorf("%s: reversed input picked %s", tc.name, again.Raw)
		}
	}
}

// TestTagsMatchPackaging compares Tags with packaging.tags.sys_tags() of the
// host's CPython (pip's vendored copy), when there is one, minus the tags
// harden leaves out on purpose (linux_<arch>).
func TestTagsMatchPackaging(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH: cannot compare with packaging.tags")
	}
	out, err := exec.Command(py, "-c", `
import platform, sys
try:
    from packaging import tags
except ImportError:
    from pip._vendor.packaging import tags
lib, ver = platform.libc_ver()
print(sys.implementation.name, sys.version_info[0], sys.version_info[1], platform.machine(), lib, ver)
for t in tags.sys_tags():
    print(t)
`).Output()
	if err != nil {
		t.Skipf("host python cannot list its tags (%v)", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	head := strings.Fields(lines[0])
	if len(head) != 6 || head[0] != "cpython" || head[4] != "glibc" {
		t.Skipf("host interpreter is not CPython on glibc: %s", lines[0])
	}
	gl := strings.SplitN(head[5], ".", 2)
	tg := Target{Implementation: "cp", Arch: head[3]}
	tg.PythonMajor, _ = strconv.Atoi(head[1])
	tg.PythonMinor, _ = strconv.Atoi(head[2])
	tg.GlibcMajor, _ = strconv.Atoi(gl[0])
	tg.GlibcMinor, _ = strconv.Atoi(gl[1])
	var want []string
	for _, l := range lines[1:] {
		if !strings.HasSuffix(l, "-linux_"+tg.Arch) {
			want = append(want, l)
		}
	}
	got := tagStrings(tg.Tags())
	// packaging < 22 (vendored by pip 23) does not yield cp3X-none-any yet.
	cpAny := fmt.Sprintf("cp%d%d-none-any", tg.PythonMajor, tg.PythonMinor)
	if !slices.Contains(want, cpAny) {
		t.Logf("host packaging predates %s; comparing without it", cpAny)
		got = slices.DeleteFunc(got, func(s string) bool { return s == cpAny })
	}
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("tags differ from packaging for %+v at index %d: got %q, want %q (lengths %d, %d)", tg, i, g, w, len(got), len(want))
		}
	}
}

func TestSplitSdist(t *testing.T) {
	for in, want := range map[string][3]string{
		"click-8.1.3.tar.gz":           {"click", "8.1.3", "true"},
		"prompt_toolkit-3.0.36.zip":    {"prompt_toolkit", "3.0.36", "true"},
		"python-dateutil-2.8.2.tgz":    {"python-dateutil", "2.8.2", "true"},
		"click-8.1.3-py3-none-any.whl": {"", "", "false"},
		"noversion.tar.gz":             {"", "", "false"},
		"trailing-.tar.gz":             {"", "", "false"},
	} {
		p, v, ok := SplitSdist(in)
		if p != want[0] || v != want[1] || fmt.Sprint(ok) != want[2] {
			t.Errorf("SplitSdist(%q) = %q, %q, %v", in, p, v, ok)
		}
	}
}
