package wheel

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/layer"
)

// Seeds live in testdata/fuzz/<FuzzName>/ so plain `go test` runs them.
// Regenerate the generated ones with HARDEN_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds.

func FuzzParseFilename(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		fn, err := ParseFilename(s)
		if err != nil {
			return
		}
		if fn.Raw != s || len(fn.Tags) == 0 || strings.Contains(fn.Name, "-") || strings.Contains(fn.Version, "-") {
			t.Fatalf("inconsistent parse of %q: %+v", s, fn)
		}
		for _, tg := range fn.Tags {
			if tg.Python == "" || tg.ABI == "" || tg.Platform == "" || strings.ContainsAny(tg.String(), ".") {
				t.Fatalf("bad tag %+v from %q", tg, s)
			}
		}
		amd64.Select([]Filename{fn})
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadata(b)
		if err != nil {
			return
		}
		if m.Name == "" || m.Version == "" || !validProjectName(m.Name) {
			t.Fatalf("accepted metadata without a valid Name/Version: %+v", m)
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseRecord(b)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Path == "" || e.Size < -1 || (e.Hash != "" && !strings.Contains(e.Hash, "=")) {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

func FuzzParseEntryPoints(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		eps, err := ParseEntryPoints(b)
		if err != nil {
			return
		}
		for g, m := range eps {
			if g == "" {
				t.Fatal("empty group")
			}
			for k, v := range m {
				if k == "" || v == "" {
					t.Fatalf("empty name or value in [%s]", g)
				}
				if ep, err := parseEntryPointValue(v); err == nil && validScriptName(k) {
					_ = wrapperScript(testInterp, g, k, ep)
				}
			}
		}
	})
}

// FuzzInstall feeds arbitrary archives to Install: it must not panic, must
// leave the tree untouched on error and must never write outside the
// scheme dirs.
func FuzzInstall(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		tree := layer.New()
		// A shared directory and a symlink from an "earlier" wheel.
		_ = tree.AddSymlink(testScheme.Purelib+"/prev/up", "../..")
		before := tree.Len()
		res, err := installChecked(bytes.NewReader(data), int64(len(data)), "demo-1.0-py3-none-any.whl", tree, testOpts())
		if err != nil {
			if tree.Len() != before {
				t.Fatalf("failed install changed the tree: %v", err)
			}
			return
		}
		if res.Name == "" || len(res.Files) == 0 {
			t.Fatalf("success without files: %+v", res)
		}
		checkInsideScheme(t, tree)
	})
}

// FuzzInstallMember builds a well-formed wheel around one fuzzed member
// (name, content, symlink or not) and a fuzzed entry_points.txt, so the
// fuzzer reaches path mapping, symlink resolution and script generation
// instead of stopping at the zip reader.
func FuzzInstallMember(f *testing.F) {
	f.Add("demo/extra.py", []byte("x = 1\n"), false, []byte("[console_scripts]\nd = demo.cli:main\n"))
	f.Add("demo/link", []byte("../../../../etc"), true, []byte(""))
	f.Add("demo-1.0.data/scripts/s", []byte("#!python\n"), false, []byte("[gui_scripts]\ng = demo:App.run [x]\n"))
	f.Add("demo-1.0.data/headers/h/x.h", []byte("up/../.."), true, []byte("[console_scripts]\n../x = demo:main\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte, link bool, eps []byte) {
		if len(name) > 4096 || strings.HasSuffix(name, "/") && (len(data) > 0 || link) {
			return // archive/zip cannot write these
		}
		spec := demoSpec()
		spec.files = append(spec.files, zfile{name: name, data: string(data), link: link})
		if len(eps) > 0 {
			spec.files = append(spec.files, zfile{name: spec.distInfo() + "/entry_points.txt", data: string(eps)})
		}
		tree := layer.New()
		_ = tree.AddSymlink(testScheme.Purelib+"/prev/up", "../..")
		before := tree.Len()
		res, err := install(t, tree, spec, testOpts())
		if err != nil {
			if tree.Len() != before {
				t.Fatalf("failed install changed the tree: %v", err)
			}
			return
		}
		checkInsideScheme(t, tree)
		for _, p := range res.Files {
			if e, ok := tree.Get(p); ok && e.Type == tar.TypeSymlink {
				if strings.HasPrefix(e.Linkname, "/") {
					t.Fatalf("absolute symlink %s -> %s installed", p, e.Linkname)
				}
			}
		}
	})
}

func checkInsideScheme(t *testing.T, tree *layer.Tree) {
	roots := []string{testScheme.Purelib, testScheme.Platlib, testScheme.Scripts, testScheme.Data, testScheme.Headers}
	_ = tree.Walk(func(e *layer.Entry) error {
		p := "/" + e.Path
		for _, r := range roots {
			if p == r || strings.HasPrefix(p, r+"/") || strings.HasPrefix(r, p+"/") {
				return nil
			}
		}
		t.Fatalf("wrote %s outside the scheme dirs", p)
		return nil
	})
}

// TestWriteFuzzSeeds regenerates the archive seeds of FuzzInstall.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("HARDEN_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set HARDEN_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz/FuzzInstall seeds")
	}
	escape := demoSpec()
	escape.files = append(escape.files, zfile{name: "demo/link", data: "../../../../etc", link: true})
	dotdot := demoSpec()
	dotdot.files = append(dotdot.files, zfile{name: "demo/../../evil.py", data: "x"})
	safeLink := demoSpec()
	safeLink.files = append(safeLink.files, zfile{name: "demo/libx.so", data: "libx.so.1", link: true}, zfile{name: "demo/libx.so.1", data: "ELF"})
	seeds := map[string][]byte{
		"valid-purelib":   demoSpec().build(t),
		"valid-data":      dataSpec().build(t),
		"symlink-escape":  escape.build(t),
		"dotdot":          dotdot.build(t),
		"safe-symlink":    safeLink.build(t),
		"wheel-version-2": func() []byte { s := demoSpec(); s.wheelVersion = "2.0"; return s.build(t) }(),
	}
	write := func(target, name, typ string, data []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n%s(%q)\n", typ, data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range seeds {
		write("FuzzInstall", name, "[]byte", data)
	}
	for name, s := range map[string]string{
		"pure":      "prompt_toolkit-3.0.36-py3-none-any.whl",
		"manylinux": "psycopg_binary-3.1.18-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		"build-tag": "foo-1.0-1-py2.py3-none-any.whl",
		"sdist":     "pgcli-3.5.0.tar.gz",
		"empty-tag": "foo-1.0-py3--any.whl",
		"local-ver": "x-1!2.0+local.7-cp38-abi3-manylinux1_x86_64.whl",
	} {
		write("FuzzParseFilename", name, "string", []byte(s))
	}
	for name, s := range map[string]string{
		"real":    "Metadata-Version: 2.1\nName: pgcli\nVersion: 3.5.0\nRequires-Python: >=3.7\nRequires-Dist: pgspecial (>=1.13.1)\nRequires-Dist: click (>=4.1)\nProvides-Extra: keyring\nRequires-Dist: keyring (>=12.2.0) ; extra == 'keyring'\n\nDescription body\nName: ignored\n",
		"folded":  "Name: x\r\nVersion: 1\r\nSummary: a\r\n  b\r\n\tc\r\n",
		"no-name": "Version: 1\n",
		"garbage": "Name x\n",
	} {
		write("FuzzParseMetadata", name, "[]byte", []byte(s))
	}
	for name, s := range map[string]string{
		"real":     "pip/__init__.py,sha256=mX3_BIl7xWjRtBPTxFcpQWw8pDuAMrBm4tcfl9pgzAY,357\npip-23.0.1.dist-info/RECORD,,\n../../bin/pip,sha256=ANo2T6_meVLFwMAsShqQtERx77tNwjRfNl23any8Ex0,248\n",
		"quoted":   "\"a,b.py\",sha256=x,1\n\"q\"\"q\",,\n",
		"bad-size": "a,sha256=x,-3\n",
		"fields":   "a,b\n",
	} {
		write("FuzzParseRecord", name, "[]byte", []byte(s))
	}
	for name, s := range map[string]string{
		"real":    "[console_scripts]\npgcli = pgcli.main:cli\n\n[gui_scripts]\nv = pkg.gui:App.run [gui]\n",
		"comment": "# c\n; d\n[a]\nx=y:z\n[a]\nm = mod\n",
		"outside": "x = y\n",
		"dup":     "[a]\nx = y\nx = z\n",
	} {
		write("FuzzParseEntryPoints", name, "[]byte", []byte(s))
	}
}

// TestFuzzInstallSeeds keeps the checked-in archive seeds meaningful: the
// valid ones install, the malicious ones are refused for their reason.
func TestFuzzInstallSeeds(t *testing.T) {
	want := map[string]string{
		"valid-purelib":   "",
		"valid-data":      "",
		"safe-symlink":    "",
		"symlink-escape":  "leaves",
		"dotdot":          "'..' segment",
		"wheel-version-2": "Wheel-Version 2.0",
	}
	for name, msg := range want {
		raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzInstall", name))
		if err != nil {
			t.Fatal(err)
		}
		lit, ok := strings.CutPrefix(strings.TrimSpace(string(raw)), "go test fuzz v1\n[]byte(")
		if !ok || !strings.HasSuffix(lit, ")") {
			t.Fatalf("%s: not a fuzz seed", name)
		}
		data, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, err = installChecked(strings.NewReader(data), int64(len(data)), "demo-1.0-py3-none-any.whl", layer.New(), testOpts())
		switch {
		case msg == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case msg != "" && (err == nil || !strings.Contains(err.Error(), msg)):
			t.Errorf("%s: got %v, want an error containing %q", name, err, msg)
		}
	}
}
