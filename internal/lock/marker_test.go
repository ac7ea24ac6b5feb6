package lock

import (
	"strings"
	"testing"
)

func mustEnv(t *testing.T, py, platform string) Env {
	t.Helper()
	e, err := TargetEnv(py, platform)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMarkerEval(t *testing.T) {
	amd64 := mustEnv(t, "3.12.8", "linux/amd64")
	arm64 := mustEnv(t, "3.12.8", "linux/arm64")
	rc := mustEnv(t, "3.13.0rc1", "linux/amd64")
	withExtra := mustEnv(t, "3.12.8", "linux/amd64")
	withExtra["extra"] = "Binary_Ext"
	cases := []struct {
		marker string
		env    Env
		want   bool
	}{
		// realistic markers from lock files
		{`python_version < "3.8"`, amd64, false},
		{`python_version >= "3.8"`, amd64, true},
		{`sys_platform == "win32"`, amd64, false},
		{`sys_platform != "win32"`, amd64, true},
		{`platform_machine == "x86_64" and python_version >= "3.11"`, amd64, true},
		{`platform_machine == "x86_64" and python_version >= "3.11"`, arm64, false},
		{`implementation_name == "cpython"`, amd64, true},
		{`platform_python_implementation == "PyPy"`, amd64, false},
		{`os_name == "nt"`, amd64, false},
		{`platform_system == "Linux"`, amd64, true},
		// version, not string, comparison: "3.12" < "3.9" as strings
		{`python_version > "3.9"`, amd64, true},
		{`python_version == "3.1"`, mustEnv(t, "3.10.4", "linux/amd64"), false},
		{`python_version == "3.10"`, mustEnv(t, "3.10.4", "linux/amd64"), true},
		{`python_version > "3.12"`, amd64, false},
		{`python_full_version == "3.12.8"`, amd64, true},
		{`python_full_version == "3.12.*"`, amd64, true},
		{`python_full_version != "3.11.*"`, amd64, true},
		{`python_full_version ~= "3.12.0"`, amd64, true},
		{`python_full_version ~= "3.11.0"`, amd64, false},
		{`python_version ~= "3.1"`, amd64, true},
		{`python_full_version === "3.12.8"`, amd64, true},
		{`implementation_version >= "3.12.8"`, amd64, true},
		// pre-releases follow packaging: 3.13.0rc1 is neither < 3.13 nor >= 3.13
		{`python_full_version < "3.13"`, rc, false},
		{`python_full_version >= "3.13"`, rc, false},
		{`python_full_version >= "3.13.0rc1"`, rc, true},
		{`python_version >= "3.13"`, rc, true},
		// string comparison when a side is not a version
		{`platform_machine > "a"`, amd64, true},
		{`os_name < "q"`, amd64, true},
		{`platform_release >= "5"`, amd64, false},
		// reversed operands
		{`"3.8" <= python_version`, amd64, true},
		{`"3.9" < python_version`, amd64, true},
		{`"3.13" < python_version`, amd64, false},
		{`"win32" == sys_platform`, amd64, false},
		// in / not in
		{`"linux" in sys_platform`, amd64, true},
		{`sys_platform in "linux darwin"`, amd64, true},
		{`"x86" not in platform_machine`, amd64, false},
		{`platform_machine not in "aarch64 armv7l"`, amd64, true},
		{`platform_machine not in "aarch64 armv7l"`, arm64, false},
		// quotes
		{`os_name == 'posix'`, amd64, true},
		{`'posix' == os_name`, amd64, true},
		// precedence: and binds tighter than or
		{`sys_platform == "win32" and os_name == "nt" or python_version >= "3"`, amd64, true},
		{`sys_platform == "linux" or os_name == "nt" and python_version < "3"`, amd64, true},
		{`sys_platform == "win32" and (os_name == "nt" or python_version >= "3")`, amd64, false},
		{`(sys_platform == "win32" or sys_platform == "linux") and python_version >= "3.10"`, amd64, true},
		{`((os_name == "posix"))`, amd64, true},
		// extra compares normalised names; unset extra is ""
		{`extra == "binary-ext"`, withExtra, true},
		{`extra == "BINARY.EXT"`, withExtra, true},
		{`extra == "binary"`, withExtra, false},
		{`extra == "binary"`, Env{}, false},
		{`extra != "binary"`, Env{}, true},
		// legacy variable spellings
		{`os.name == "posix" and sys.platform == "linux"`, amd64, true},
		{`platform.machine == "x86_64"`, amd64, true},
		{`"a" == "a"`, Env{}, true},
	}
	for _, c := range cases {
		m, err := ParseMarker(c.marker)
		if err != nil {
			t.Errorf("ParseMarker(%s): %v", c.marker, err)
			continue
		}
		got, err := m.Eval(c.env)
		if err != nil {
			t.Errorf("Eval(%s): %v", c.marker, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v (env %v)", c.marker, got, c.want, c.env["python_full_version"])
		}
		// The canonical form means the same.
		m2, err := ParseMarker(m.String())
		if err != nil {
			t.Errorf("reparse %q: %v", m.String(), err)
			continue
		}
		if got2, _ := m2.Eval(c.env); got2 != got {
			t.Errorf("%s: canonical %s evaluates to %v", c.marker, m.String(), got2)
		}
	}
}

func TestMarkerEvalErrors(t *testing.T) {
	env := mustEnv(t, "3.12.8", "linux/amd64")
	for _, c := range []struct {
		marker string
		env    Env
		want   string
	}{
		{`os_name ~= "posix"`, env, "needs PEP 440 versions"},
		{`os_name == "posix"`, Env{}, "os_name is not set"},
		{`os_name == "nt" and platform_release == "x"`, Env{"os_name": "posix"}, "platform_release is not set"},
	} {
		m, err := ParseMarker(c.marker)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Eval(c.env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Eval(%s): %v, want %q", c.marker, err, c.want)
		}
	}
}

func TestMarkerString(t *testing.T) {
	for in, want := range map[string]string{
		`python_version>='3.8'`:                                  `python_version >= "3.8"`,
		`  os_name=="posix"   and   sys_platform  !=  "win32" `:  `os_name == "posix" and sys_platform != "win32"`,
		`(os_name == "a" or os_name == "b") and os_name == "c"`:  `(os_name == "a" or os_name == "b") and os_name == "c"`,
		`os_name == "a" and (os_name == "b" and os_name == "c")`: `os_name == "a" and os_name == "b" and os_name == "c"`,
		`(os_name == "a" and os_name == "b") or os_name == "c"`:  `os_name == "a" and os_name == "b" or os_name == "c"`,
		`os_name == "a" or (os_name == "b" or os_name == "c")`:   `os_name == "a" or os_name == "b" or os_name == "c"`,
		`'it"s' == os_name`:                                                        `'it"s' == os_name`,
		`python_implementation == "CPython"`:                                       `platform_python_implementation == "CPython"`,
		`platform_machine not  in "x86_64 aarch64"`:                                `platform_machine not in "x86_64 aarch64"`,
		"python_version\t<\t\"3.8\"":                                               `python_version < "3.8"`,
		`os_name == "a" and (os_name == "b" or os_name == "c") and os_name == "d"`: `os_name == "a" and (os_name == "b" or os_name == "c") and os_name == "d"`,
	} {
		m, err := ParseMarker(in)
		if err != nil {
			t.Errorf("ParseMarker(%s): %v", in, err)
			continue
		}
		if got := m.String(); got != want {
			t.Errorf("String(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestMarkerInvalid(t *testing.T) {
	for _, c := range []struct{ marker, want string }{
		{``, "expected a variable or a quoted string"},
		{`python_version`, "expected a comparison operator"},
		{`python_version >= `, "expected a variable or a quoted string"},
		{`python_version >= 3.8`, "unexpected character"},
		{`pyversion == "3"`, `unknown variable "pyversion"`},
		{`python_version => "3"`, "unknown operator"},
		{`python_version = "3"`, "unknown operator"},
		{`python_version <> "3"`, "expected a variable or a quoted string"},
		{`(python_version >= "3"`, "expected ) to close ("},
		{`python_version >= "3")`, `unexpected ")"`},
		{`python_version >= "3" and`, "expected a variable or a quoted string"},
		{`python_version >= "3" or or os_name == "x"`, "expected a variable or a quoted string"},
		{`"a" "b"`, "expected a comparison operator"},
		{`python_version not "3"`, `expected "in" after "not"`},
		{`python_version >= "3.8`, "unterminated string"},
		{`python_version >= "3" && os_name == "posix"`, "unexpected character"},
		{`and os_name == "posix"`, "expected a variable or a quoted string"},
		{strings.Repeat("(", 100) + `os_name == "a"` + strings.Repeat(")", 100), "nested deeper than"},
	} {
		_, err := ParseMarker(c.marker)
		if err == nil {
			t.Errorf("ParseMarker(%q) accepted", c.marker)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "marker ") {
			t.Errorf("ParseMarker(%q): %v, want %q", c.marker, err, c.want)
		}
	}
}

func TestTargetEnv(t *testing.T) {
	for _, c := range []struct{ py, platform, machine, pyver string }{
		{"3.12.8", "linux/amd64", "x86_64", "3.12"},
		{"3.11.2", "linux/arm64", "aarch64", "3.11"},
		{"3.11.2", "linux/arm64/v8", "aarch64", "3.11"},
		{"3.10.0", "linux/arm/v7", "armv7l", "3.10"},
		{"3.13.0rc1", "linux/386", "i686", "3.13"},
	} {
		e, err := TargetEnv(c.py, c.platform)
		if err != nil {
			t.Errorf("TargetEnv(%s, %s): %v", c.py, c.platform, err)
			continue
		}
		if e["platform_machine"] != c.machine || e["python_version"] != c.pyver || e["python_full_version"] != c.py ||
			e["implementation_version"] != c.py || e["sys_platform"] != "linux" || e["os_name"] != "posix" ||
			e["platform_system"] != "Linux" || e["implementation_name"] != "cpython" || e["platform_python_implementation"] != "CPython" {
			t.Errorf("TargetEnv(%s, %s) = %v", c.py, c.platform, e)
		}
		for v := range markerVars {
			if _, ok := e[markerVars[v]]; !ok {
				t.Errorf("TargetEnv lacks %s", markerVars[v])
			}
		}
	}
	for _, c := range [][2]string{{"3", "linux/amd64"}, {"three", "linux/amd64"}, {"3.12.8", "windows/amd64"}, {"3.12.8", "linux/sparc"}, {"3.12.8", "amd64"}} {
		if _, err := TargetEnv(c[0], c[1]); err == nil {
			t.Errorf("TargetEnv(%s, %s) accepted", c[0], c[1])
		}
	}
}
