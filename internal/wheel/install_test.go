package wheel

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/layer"
)

const site = "/usr/lib/python3/dist-packages"

func demoSpec() wheelSpec {
	return wheelSpec{name: "demo", version: "1.0", files: []zfile{
		{name: "demo/__init__.py", data: "VALUE = 1\n"},
		{name: "demo/cli.py", data: "def main():\n    print('demo main')\n    return 3\n", mode: 0o755},
		{name: "demo/sub/data.bin", data: "\x00\x01binary"},
	}}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestInstallPurelib(t *testing.T) {
	tree := layer.New()
	res, err := install(t, tree, demoSpec(), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	di := site + "/demo-1.0.dist-info"
	want := []string{
		site + "/demo-1.0.dist-info/INSTALLER",
		site + "/demo-1.0.dist-info/METADATA",
		site + "/demo-1.0.dist-info/RECORD",
		site + "/demo-1.0.dist-info/REQUESTED",
		site + "/demo-1.0.dist-info/WHEEL",
		site + "/demo/__init__.py",
		site + "/demo/cli.py",
		site + "/demo/sub/data.bin",
	}
	files := treeFiles(t, tree)
	if got := keys(files); !reflect.DeepEqual(got, want) {
		t.Fatalf("tree files:\n got %v\nwant %v", got, want)
	}
	if !reflect.DeepEqual(res.Files, want) {
		t.Errorf("Installed.Files = %v", res.Files)
	}
	if res.Name != "demo" || res.Version != "1.0" || res.DistInfo != di || res.Metadata == nil ||
		!reflect.DeepEqual(res.Metadata.RequiresDist, []string{"six (>=1.0)"}) || len(res.ConsoleScripts) != 0 || len(res.Warnings) != 0 {
		t.Errorf("Installed = %+v", res)
	}
	if files[di+"/INSTALLER"] != "harden\n" || files[di+"/REQUESTED"] != "" || files[site+"/demo/sub/data.bin"] != "\x00\x01binary" {
		t.Errorf("contents: INSTALLER %q REQUESTED %q", files[di+"/INSTALLER"], files[di+"/REQUESTED"])
	}
	for p, mode := range map[string]int64{site + "/demo/cli.py": 0o755, site + "/demo/__init__.py": 0o644, di + "/RECORD": 0o644} {
		if e, ok := tree.Get(p); !ok || e.Mode != mode || e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: mode %o, want %o", p, e.Mode, mode)
		}
	}
	checkRecord(t, tree, res)
}

func TestInstallPlatlibAndOptions(t *testing.T) {
	spec := demoSpec()
	spec.platlib = true
	tree := layer.New()
	opts := testOpts()
	opts.Requested = false
	opts.Installer = "custom-tool"
	res, err := install(t, tree, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	plat := testScheme.Platlib
	files := treeFiles(t, tree)
	if _, ok := files[plat+"/demo/cli.py"]; !ok {
		t.Errorf("Root-Is-Purelib: false did not install into platlib: %v", keys(files))
	}
	for p := range files {
		if strings.HasPrefix(p, site+"/") {
			t.Errorf("%s installed into purelib", p)
		}
	}
	if res.DistInfo != plat+"/demo-1.0.dist-info" {
		t.Errorf("DistInfo %s", res.DistInfo)
	}
	if _, ok := files[res.DistInfo+"/REQUESTED"]; ok {
		t.Error("REQUESTED written although Requested is false")
	}
	if files[res.DistInfo+"/INSTALLER"] != "custom-tool\n" {
		t.Errorf("INSTALLER %q", files[res.DistInfo+"/INSTALLER"])
	}
	checkRecord(t, tree, res)
}

func dataSpec() wheelSpec {
	s := demoSpec()
	s.files = append(s.files,
		zfile{name: "demo-1.0.data/scripts/demo-sh", data: "#!/bin/sh\necho hi\n"},
		zfile{name: "demo-1.0.data/scripts/demo-py", data: "#!python\nimport sys\nprint('py')\n"},
		zfile{name: "demo-1.0.data/scripts/demo-pyw", data: "#!pythonw -u\r\nprint('pyw')\n"},
		zfile{name: "demo-1.0.data/purelib/demo_extra.py", data: "X = 2\n"},
		zfile{name: "demo-1.0.data/platlib/demo_native.py", data: "Y = 3\n"},
		zfile{name: "demo-1.0.data/data/share/demo/readme.txt", data: "hello\n"},
		zfile{name: "demo-1.0.data/headers/demo.h", data: "int demo(void);\n"},
	)
	s.entryPoints = "[console_scripts]\ndemo-cli = demo.cli:main\ndemo-mod = demo.cli\n\n[gui_scripts]\ndemo-gui = demo.cli:App.run [gui]\n"
	s.files[1].data = "class App:\n    @staticmethod\n    def run():\n        print('gui run')\n        return 4\n\ndef main():\n    print('demo main')\n    return 3\n\nif __name__ == '__main__':\n    print('as module')\n"
	return s
}

func TestInstallDataCategoriesAndScripts(t *testing.T) {
	tree := layer.New()
	res, err := install(t, tree, dataSpec(), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	files := treeFiles(t, tree)
	wantContent := map[string]string{
		"/usr/bin/demo-sh":                     "#!/bin/sh\necho hi\n",
		"/usr/bin/demo-py":                     "#!/usr/bin/python3.11\nimport sys\nprint('py')\n",
		"/usr/bin/demo-pyw":                    "#!/usr/bin/python3.11\nprint('pyw')\n",
		site + "/demo_extra.py":                "X = 2\n",
		testScheme.Platlib + "/demo_native.py": "Y = 3\n",
		"/usr/share/demo/readme.txt":           "hello\n",
		"/usr/include/python3.11/demo/demo.h":  "int demo(void);\n",
	}
	for p, want := range wantContent {
		if got, ok := files[p]; !ok || got != want {
			t.Errorf("%s = %q (present %v), want %q", p, got, ok, want)
		}
	}
	for _, p := range []string{"/usr/bin/demo-sh", "/usr/bin/demo-py", "/usr/bin/demo-pyw", "/usr/bin/demo-cli", "/usr/bin/demo-gui", "/usr/bin/demo-mod"} {
		if e, ok := tree.Get(p); !ok || e.Mode != 0o755 {
			t.Errorf("%s not installed 0755 (%v)", p, ok)
		}
	}
	for p := range files {
		if strings.Contains(p, ".data/") {
			t.Errorf("%s: .data dir installed verbatim", p)
		}
	}
	if !reflect.DeepEqual(res.ConsoleScripts, []string{"demo-cli", "demo-gui", "demo-mod"}) {
		t.Errorf("ConsoleScripts %v", res.ConsoleScripts)
	}
	cli := files["/usr/bin/demo-cli"]
	for _, want := range []string{"#!/usr/bin/python3.11\n", "from demo.cli import main as _entry_point\n", "sys.exit(_entry_point())\n"} {
		if !strings.Contains(cli, want) {
			t.Errorf("demo-cli lacks %q:\n%s", want, cli)
		}
	}
	if !strings.HasPrefix(cli, "#!/usr/bin/python3.11\n") {
		t.Errorf("demo-cli shebang: %q", cli)
	}
	if gui := files["/usr/bin/demo-gui"]; !strings.Contains(gui, "from demo.cli import App as _entry_point\n") || !strings.Contains(gui, "sys.exit(_entry_point.run())") {
		t.Errorf("demo-gui:\n%s", gui)
	}
	if mod := files["/usr/bin/demo-mod"]; !strings.Contains(mod, `runpy.run_module("demo.cli", run_name="__main__", alter_sys=True)`) {
		t.Errorf("demo-mod:\n%s", mod)
	}
	checkRecord(t, tree, res)
	runScripts(t, tree)
}

// runScripts executes the generated launchers with the host python, when
// there is one, against the installed package.
func runScripts(t *testing.T, tree *layer.Tree) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not on PATH: launchers not executed")
		return
	}
	dir := t.TempDir()
	for p, data := range treeFiles(t, tree) {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for script, want := range map[string]struct {
		out  string
		code int
	}{"demo-cli": {"demo main\n", 3}, "demo-gui": {"gui run\n", 4}, "demo-mod": {"as module\n", 0}} {
		cmd := exec.Command(py, filepath.Join(dir, "usr/bin", script))
		cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(dir, site), "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if string(out) != want.out || code != want.code {
			t.Errorf("%s: output %q exit %d, want %q exit %d", script, out, code, want.out, want.code)
		}
	}
}

// checkRecord verifies the installed RECORD against the tree: same set of
// files, right hashes and sizes, sorted, RECORD itself without a hash.
func checkRecord(t *testing.T, tree *layer.Tree, res *Installed) {
	t.Helper()
	recPath := res.DistInfo + "/RECORD"
	e, ok := tree.Get(recPath)
	if !ok {
		t.Fatal("no RECORD")
	}
	entries, err := ParseRecord(e.Data)
	if err != nil {
		t.Fatal(err)
	}
	base := path.Dir(res.DistInfo)
	var listed []string
	var rels []string
	for _, r := range entries {
		abs := path.Join(base, r.Path)
		listed = append(listed, abs)
		rels = append(rels, r.Path)
		if abs == recPath {
			if r.Hash != "" || r.Size != -1 {
				t.Errorf("RECORD lists itself with %q,%d", r.Hash, r.Size)
			}
			continue
		}
		fe, ok := tree.Get(abs)
		if !ok {
			t.Errorf("RECORD lists %s (%s), not in the tree", r.Path, abs)
			continue
		}
		data, err := fe.Content()
		if err != nil {
			t.Fatalf("read %s: %v", abs, err)
		}
		if fe.Linkname != "" {
			data = []byte(fe.Linkname)
		}
		sum := sha256.Sum256(data)
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]); r.Hash != want || r.Size != int64(len(data)) {
			t.Errorf("RECORD %s: %s,%d; tree has %s,%d", r.Path, r.Hash, r.Size, want, len(data))
		}
	}
	if !sort.StringsAreSorted(rels) {
		t.Errorf("RECORD not sorted: %v", rels)
	}
	sort.Strings(listed)
	if !reflect.DeepEqual(listed, res.Files) {
		t.Errorf("RECORD lists\n%v\nInstalled.Files\n%v", listed, res.Files)
	}
}

func TestInstalledRecordRelativePaths(t *testing.T) {
	tree := layer.New()
	res, err := install(t, tree, dataSpec(), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	e, _ := tree.Get(res.DistInfo + "/RECORD")
	rec := string(e.Data)
	for _, want := range []string{
		"\n../../../bin/demo-cli,sha256=",
		"\n../../../include/python3.11/demo/demo.h,sha256=",
		"\n../../../share/demo/readme.txt,sha256=",
		"\n../plat-packages/demo_native.py,sha256=",
		"\ndemo-1.0.dist-info/RECORD,,\n",
		"\ndemo/__init__.py,sha256=" + strings.TrimPrefix(b64sha256([]byte("VALUE = 1\n")), "sha256=") + ",10\n",
	} {
		if !strings.Contains("\n"+rec, want) {
			t.Errorf("RECORD lacks %q:\n%s", want, rec)
		}
	}
}

func tarBytes(t *testing.T, tree *layer.Tree) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tree.WriteTar(&buf, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInstallDeterministic(t *testing.T) {
	spec := dataSpec()
	data := spec.build(t)
	var first []byte
	for i := 0; i < 2; i++ {
		tree := layer.New()
		if _, err := installChecked(bytes.NewReader(data), int64(len(data)), spec.filename(), tree, testOpts()); err != nil {
			t.Fatal(err)
		}
		got := tarBytes(t, tree)
		if i == 0 {
			first = got
		} else if !bytes.Equal(first, got) {
			t.Fatal("two installs of the same wheel gave different tars")
		}
	}
	// The member order inside the archive must not matter either.
	rev := spec
	rev.files = append([]zfile(nil), spec.files...)
	for i, j := 0, len(rev.files)-1; i < j; i, j = i+1, j-1 {
		rev.files[i], rev.files[j] = rev.files[j], rev.files[i]
	}
	tree := layer.New()
	if _, err := install(t, tree, rev, testOpts()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, tarBytes(t, tree)) {
		t.Fatal("archive member order changed the tree")
	}
}

func TestInstallSharedDirsAndSafeSymlink(t *testing.T) {
	tree := layer.New()
	if _, err := install(t, tree, demoSpec(), testOpts()); err != nil {
		t.Fatal(err)
	}
	// A second distribution may share directories (a namespace package
	// and the bin dir) and may ship a symlink that stays inside its root.
	other := wheelSpec{name: "other", version: "2.0", files: []zfile{
		{name: "demo/plugins/other.py", data: "Z = 1\n"},
		{name: "other/libfoo.so.1", data: "ELF"},
		{name: "other/libfoo.so", data: "libfoo.so.1", link: true},
		{name: "other/up", data: "../demo", link: true},
	}, entryPoints: "[console_scripts]\nother = other:main\n"}
	res, err := install(t, tree, other, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	e, ok := tree.Get(site + "/other/libfoo.so")
	if !ok || e.Type != '2' || e.Linkname != "libfoo.so.1" {
		t.Errorf("symlink not installed: %+v", e)
	}
	checkRecord(t, tree, res)
}

func TestInstallWheelVersionMinorWarns(t *testing.T) {
	spec := demoSpec()
	spec.wheelVersion = "1.9"
	res, err := install(t, layer.New(), spec, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Wheel-Version 1.9") {
		t.Errorf("warnings %v", res.Warnings)
	}
}

func TestInstallAcceptsStrongerHashes(t *testing.T) {
	spec := demoSpec()
	// sha512 of "VALUE = 1\n".
	spec.files[0].hash = "sha512=" + sha512b64("VALUE = 1\n")
	if _, err := install(t, layer.New(), spec, testOpts()); err != nil {
		t.Fatal(err)
	}
}

// TestInstallRefuses covers malformed and malicious wheels. Every error
// must name the offending member (or both owners) and the tree must stay
// untouched.
func TestInstallRefuses(t *testing.T) {
	with := func(extra ...zfile) wheelSpec {
		s := demoSpec()
		s.files = append(s.files, extra...)
		return s
	}
	tests := []struct {
		name string
		spec wheelSpec
		want []string
	}{
		{"dotdot", with(zfile{name: "demo/../../evil.py", data: "x"}), []string{`"demo/../../evil.py"`, "'..' segment", "refusing to install", "trusted source"}},
		{"leading dotdot", with(zfile{name: "../evil.py", data: "x"}), []string{`"../evil.py"`, "'..' segment"}},
		{"absolute", with(zfile{name: "/etc/passwd", data: "root::0:0"}), []string{`"/etc/passwd"`, "absolute path"}},
		{"backslash", with(zfile{name: "demo\\..\\evil.py", data: "x"}), []string{`"demo\\..\\evil.py"`, "backslash"}},
		{"drive letter", with(zfile{name: "C:/evil.py", data: "x"}), []string{`"C:/evil.py"`, "drive-letter"}},
		{"nul byte", with(zfile{name: "demo/evil\x00.py", data: "x"}), []string{`"demo/evil\x00.py"`, "NUL"}},
		{"dot segment", with(zfile{name: "demo/./x.py", data: "x"}), []string{`"demo/./x.py"`, "non-canonical"}},
		{"symlink escapes", with(zfile{name: "demo/link", data: "../../../../etc", link: true}), []string{`"demo/link"`, "symlink", "leaves " + site}},
		{"symlink absolute", with(zfile{name: "demo/link", data: "/etc/shadow", link: true}), []string{`"demo/link"`, "is absolute"}},
		{"symlink chain escapes", with(
			zfile{name: "demo/up", data: "..", link: true},
			zfile{name: "demo/x", data: "up/../../etc", link: true}), []string{`"demo/x"`, "leaves " + site}},
		{"symlink to scripts dir", with(zfile{name: "demo-1.0.data/scripts/s", data: "../lib/python3", link: true}), []string{`"demo-1.0.data/scripts/s"`, "leaves /usr/bin"}},
		{"write through symlink", with(
			zfile{name: "demo/d", data: "sub", link: true},
			zfile{name: "demo/d/x.py", data: "x"}), []string{`"demo/d/x.py"`, `lies under "demo/d"`}},
		{"hash mismatch", with(zfile{name: "demo/evil.py", data: "import os", hash: b64sha256([]byte("harmless"))}), []string{`"demo/evil.py"`, "sha256 mismatch", "altered"}},
		{"size mismatch", with(zfile{name: "demo/evil.py", data: "x", size: "5"}), []string{`"demo/evil.py"`, "size mismatch"}},
		{"md5", with(zfile{name: "demo/weak.py", data: "x", hash: "md5=lZJH2tqaEIFr1w-Z_bQr7w"}), []string{`"demo/weak.py"`, "weak hash md5"}},
		{"no hash", with(zfile{name: "demo/nohash.py", data: "x", noRecord: true}).withRecordLine("demo/nohash.py,,1"), []string{`"demo/nohash.py"`, "has no hash"}},
		{"not in RECORD", with(zfile{name: "demo/smuggled.py", data: "x", noRecord: true}), []string{`"demo/smuggled.py"`, "not listed in RECORD"}},
		{"RECORD lists missing file", demoSpec().withRecordLine("demo/ghost.py,sha256=AAAA,1"), []string{`"demo/ghost.py"`, "missing from the archive"}},
		{"wheel version 2", func() wheelSpec { s := demoSpec(); s.wheelVersion = "2.0"; return s }(), []string{`"demo-1.0.dist-info/WHEEL"`, "Wheel-Version 2.0", "format 1.x"}},
		{"duplicate member", with(zfile{name: "demo/__init__.py", data: "VALUE = 1\n"}), []string{`"demo/__init__.py"`, "appears twice"}},
		{"unknown data category", with(zfile{name: "demo-1.0.data/lib/x.py", data: "x"}), []string{`"demo-1.0.data/lib/x.py"`, `unknown .data category "lib"`}},
		{"foreign data dir", with(zfile{name: "other-1.0.data/scripts/x", data: "x"}), []string{`"other-1.0.data/scripts/x"`, "only data directory"}},
		{"setuid", with(zfile{name: "demo/suid", data: "x", mode: fs.ModeSetuid | 0o755}), []string{`"demo/suid"`, "setuid"}},
		{"second dist-info", with(zfile{name: "evil-1.0.dist-info/METADATA", data: "Name: evil\nVersion: 1.0\n"}), []string{"evil-1.0.dist-info", "several .dist-info"}},
		{"script name escapes", func() wheelSpec {
			s := demoSpec()
			s.entryPoints = "[console_scripts]\n../../etc/cron.d/x = demo.cli:main\n"
			return s
		}(), []string{`"demo-1.0.dist-info/entry_points.txt"`, `invalid script name "../../etc/cron.d/x"`}},
		{"bad entry point", func() wheelSpec {
			s := demoSpec()
			s.entryPoints = "[console_scripts]\nx = demo.cli:main()\n"
			return s
		}(), []string{`"demo-1.0.dist-info/entry_points.txt"`, "dotted attribute"}},
		{"script clash", func() wheelSpec {
			s := with(zfile{name: "demo-1.0.data/scripts/x", data: "#!/bin/sh\n"})
			s.entryPoints = "[console_scripts]\nx = demo.cli:main\n"
			return s
		}(), []string{`"demo-1.0.data/scripts/x"`, "/usr/bin/x"}},
		{"two members, one destination", with(zfile{name: "demo-1.0.data/purelib/demo/__init__.py", data: "x"}), []string{`"demo-1.0.data/purelib/demo/__init__.py"`, `"demo/__init__.py"`}},
		{"member over generated RECORD", with(zfile{name: "demo-1.0.data/purelib/demo-1.0.dist-info/RECORD", data: "x"}), []string{`"demo-1.0.data/purelib/demo-1.0.dist-info/RECORD"`, "both be installed"}},
		{"member over INSTALLER", with(zfile{name: "demo-1.0.data/platlib/../plat-packages/x", data: "x"}), []string{"'..' segment"}},
		{"no METADATA", func() wheelSpec { s := demoSpec(); s.noMetadata = true; return s }(), []string{"no demo-1.0.dist-info/METADATA"}},
		{"METADATA names another project", with(zfile{name: "demo-1.0.dist-info/METADATA", data: "Name: evil\nVersion: 1.0\n"}), []string{`"demo-1.0.dist-info/METADATA"`, `declares project "evil"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tree := layer.New()
			_, err := install(t, tree, tc.spec, testOpts())
			if err == nil {
				t.Fatal("installed; want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "demo-1.0-py3-none-any.whl") {
				t.Errorf("error does not name the wheel: %s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if tree.Len() != 0 {
				t.Errorf("failed install left %d entries in the tree", tree.Len())
			}
		})
	}
}

func (s wheelSpec) withRecordLine(l string) wheelSpec {
	s.extraRecord = append(append([]string(nil), s.extraRecord...), l)
	return s
}

func TestInstallRefusesSecondOwner(t *testing.T) {
	tree := layer.New()
	if _, err := install(t, tree, demoSpec(), testOpts()); err != nil {
		t.Fatal(err)
	}
	before := tarBytes(t, tree)
	other := wheelSpec{name: "other", version: "2.0", files: []zfile{
		{name: "other/__init__.py", data: ""},
		{name: "demo/cli.py", data: "def main(): pass\n"},
	}}
	_, err := install(t, tree, other, testOpts())
	if err == nil {
		t.Fatal("second owner of demo/cli.py accepted")
	}
	for _, w := range []string{"other-2.0-py3-none-any.whl", site + "/demo/cli.py", "demo-1.0.dist-info", "two owners"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if !bytes.Equal(before, tarBytes(t, tree)) {
		t.Error("failed install changed the tree")
	}
	// Installing the same wheel twice is the same conflict.
	if _, err := install(t, tree, demoSpec(), testOpts()); err == nil || !strings.Contains(err.Error(), "demo-1.0.dist-info") {
		t.Errorf("reinstall: %v", err)
	}
	// A console script clashing with another wheel's script.
	clash := wheelSpec{name: "clash", version: "1", files: []zfile{{name: "clash.py", data: ""}}, entryPoints: "[console_scripts]\ndemo-cli = clash:main\n"}
	tree2 := layer.New()
	if _, err := install(t, tree2, dataSpec(), testOpts()); err != nil {
		t.Fatal(err)
	}
	if _, err := install(t, tree2, clash, testOpts()); err == nil || !strings.Contains(err.Error(), "/usr/bin/demo-cli") || !strings.Contains(err.Error(), "demo-1.0.dist-info") {
		t.Errorf("script clash: %v", err)
	}
}

func TestInstallInputErrors(t *testing.T) {
	data := demoSpec().build(t)
	if _, err := installChecked(bytes.NewReader(data), int64(len(data)), "evil-1.0-py3-none-any.whl", layer.New(), testOpts()); err == nil || !strings.Contains(err.Error(), "does not match the filename") {
		t.Errorf("mislabelled wheel: %v", err)
	}
	if _, err := installChecked(bytes.NewReader(data), int64(len(data)), "demo-1.0.tar.gz", layer.New(), testOpts()); err == nil || !strings.Contains(err.Error(), "sdist") {
		t.Errorf("sdist name: %v", err)
	}
	if _, err := installChecked(bytes.NewReader([]byte("not a zip")), 9, "demo-1.0-py3-none-any.whl", layer.New(), testOpts()); err == nil || !strings.Contains(err.Error(), "not a readable zip") {
		t.Errorf("garbage: %v", err)
	}
	opts := testOpts()
	opts.Scheme.Purelib = "relative/site"
	if _, err := installChecked(bytes.NewReader(data), int64(len(data)), "demo-1.0-py3-none-any.whl", layer.New(), opts); err == nil || !strings.Contains(err.Error(), "Purelib") {
		t.Errorf("relative scheme: %v", err)
	}
	spec := dataSpec()
	d2 := spec.build(t)
	opts = testOpts()
	opts.Interpreter = ""
	if _, err := installChecked(bytes.NewReader(d2), int64(len(d2)), spec.filename(), layer.New(), opts); err == nil || !strings.Contains(err.Error(), "interpreter") {
		t.Errorf("no interpreter: %v", err)
	}
}
