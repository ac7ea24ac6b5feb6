package wheel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/layer"
)

// The peer check installs the same wheels with pip and with Install, then
// compares every file. Only these differences are allowed, and each one
// must show up (so the list cannot go stale):
//   - <dist-info>/INSTALLER: "pip\n" against "harden\n";
//   - <dist-info>/RECORD: pip records the paths of its temporary --target
//     layout ("../../bin/x"), harden the final ones ("bin/x");
//   - <dist-info>/direct_url.json: pip writes it for a wheel given as a
//     file path (PEP 610); harden installs from a lock, not a URL;
//   - bin/<console or gui script>: each installer writes its own launcher.
// REQUESTED is written by both (Requested: true) and must match.

func findPip(t *testing.T) string {
	t.Helper()
	pip, err := exec.LookPath("pip")
	if err != nil {
		if os.Getenv("HARDEN_REQUIRE_PIP") == "1" {
			t.Fatalf("HARDEN_REQUIRE_PIP=1 but pip is not on PATH: %v", err)
		}
		t.Skipf("pip is not on PATH (%v): peer check against pip skipped", err)
	}
	return pip
}

// pipEnv isolates pip from the host's configuration.
func pipEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PIP_") {
			env = append(env, kv)
		}
	}
	return append(env, "PIP_CONFIG_FILE="+os.DevNull, "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1", "PYTHONDONTWRITEBYTECODE=1")
}

// pipPython returns pip's interpreter (what it writes into shebangs) and
// the tags it supports.
func pipPython(t *testing.T, pip string) (string, map[string]int) {
	t.Helper()
	cmd := exec.Command(pip, "debug")
	cmd.Env = pipEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pip debug: %v", err)
	}
	var exe string
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "sys.executable: "); ok {
			exe = strings.TrimSpace(v)
		}
	}
	if exe == "" {
		t.Fatalf("pip debug did not report sys.executable:\n%s", out)
	}
	out, err = exec.Command(exe, "-c", "from pip._vendor.packaging import tags\nfor t in tags.sys_tags(): print(t)").Output()
	if err != nil {
		t.Fatalf("list pip's tags: %v", err)
	}
	tags := map[string]int{}
	for i, l := range strings.Fields(string(out)) {
		tags[l] = i
	}
	return exe, tags
}

func fixtureWheelDir() string {
	if d := os.Getenv("HARDEN_FIXTURES"); d != "" {
		return filepath.Join(d, "wheels")
	}
	abs, _ := filepath.Abs(filepath.Join("..", "..", ".cache", "fixtures", "wheels"))
	return abs
}

// pickForHost keeps, per project, the wheel pip would prefer on this host.
func pickForHost(t *testing.T, paths []string, tags map[string]int) []string {
	best := map[string]string{}
	rank := map[string]int{}
	for _, p := range paths {
		fn, err := ParseFilename(filepath.Base(p))
		if err != nil {
			t.Fatalf("fixture %s: %v", p, err)
		}
		r := -1
		for _, tg := range fn.Tags {
			if i, ok := tags[tg.String()]; ok && (r < 0 || i < r) {
				r = i
			}
		}
		if r < 0 {
			continue
		}
		key := NormalizeName(fn.Name)
		if prev, ok := rank[key]; !ok || r < prev {
			best[key], rank[key] = p, r
		}
	}
	var out []string
	for _, p := range best {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func TestPeerPip(t *testing.T) {
	pip := findPip(t)
	interp, tags := pipPython(t, pip)

	t.Run("debian-python-wheels", func(t *testing.T) {
		paths, _ := filepath.Glob("/usr/share/python-wheels/*.whl")
		if len(paths) == 0 {
			t.Skip("/usr/share/python-wheels has no wheels (install python3-pip-whl)")
		}
		comparePeer(t, pip, interp, paths)
	})
	t.Run("synthetic", func(t *testing.T) {
		// Every .data category, #!python rewriting, console and gui scripts.
		dir := t.TempDir()
		spec := dataSpec()
		spec.entryPoints = "[console_scripts]\ndemo-cli = demo.cli:main\n\n[gui_scripts]\ndemo-gui = demo.cli:App.run [gui]\n"
		p := filepath.Join(dir, spec.filename())
		if err := os.WriteFile(p, spec.build(t), 0o644); err != nil {
			t.Fatal(err)
		}
		plat := wheelSpec{name: "nativedemo", version: "0.1", platlib: true, files: []zfile{
			{name: "nativedemo/__init__.py", data: "from . import core\n"},
			{name: "nativedemo/core.py", data: "N = 1\n"},
			{name: "nativedemo/tool", data: "#!/bin/sh\n", mode: 0o755},
		}}
		p2 := filepath.Join(dir, plat.filename())
		if err := os.WriteFile(p2, plat.build(t), 0o644); err != nil {
			t.Fatal(err)
		}
		comparePeer(t, pip, interp, []string{p, p2})
	})
	t.Run("fixtures", func(t *testing.T) {
		dir := fixtureWheelDir()
		paths, _ := filepath.Glob(filepath.Join(dir, "*.whl"))
		if len(paths) == 0 {
			if os.Getenv("HARDEN_REQUIRE_FIXTURES") == "1" {
				t.Fatalf("HARDEN_REQUIRE_FIXTURES=1 but %s has no wheels; run `make fixtures`", dir)
			}
			t.Skipf("no fixture wheels in %s (set HARDEN_FIXTURES or run `make fixtures`)", dir)
		}
		picked := pickForHost(t, paths, tags)
		if len(picked) == 0 {
			t.Fatalf("none of the %d fixture wheels in %s suits the host's pip", len(paths), dir)
		}
		t.Logf("comparing %d of %d fixture wheels", len(picked), len(paths))
		comparePeer(t, pip, interp, picked)
	})
}

// hashDir maps every file under dir to "sha256:<hex>" (symlinks "-> target").
func hashDir(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[filepath.ToSlash(rel)] = "-> " + target
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[filepath.ToSlash(rel)] = "sha256:" + hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func comparePeer(t *testing.T, pip, interp string, wheels []string) {
	t.Helper()
	target := filepath.Join(t.TempDir(), "target")
	args := append([]string{"install", "--no-index", "--no-deps", "--no-compile", "--target", target, "--only-binary=:all:"}, wheels...)
	cmd := exec.Command(pip, args...)
	cmd.Env = pipEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	theirs := hashDir(t, target)

	// Mirror pip --target: everything lands in one dir, scripts in bin/,
	// headers in include/python/<name>/ (pip's "posix_home" scheme).
	const root = "/peer"
	opts := InstallOptions{
		Scheme:      Scheme{Purelib: root, Platlib: root, Scripts: root + "/bin", Data: root, Headers: root + "/include/python"},
		Interpreter: interp,
		Requested:   true,
	}
	tree := layer.New()
	type expect struct{ path, kind string }
	var expected []expect
	for _, w := range wheels {
		data, err := os.ReadFile(w)
		if err != nil {
			t.Fatal(err)
		}
		res, err := installChecked(bytes.NewReader(data), int64(len(data)), filepath.Base(w), tree, opts)
		if err != nil {
			t.Fatalf("native install: %v", err)
		}
		di := strings.TrimPrefix(res.DistInfo, root+"/")
		expected = append(expected, expect{di + "/INSTALLER", "differs"}, expect{di + "/RECORD", "differs"}, expect{di + "/direct_url.json", "pip only"})
		for _, s := range res.ConsoleScripts {
			expected = append(expected, expect{"bin/" + s, "differs"})
		}
	}
	ours := map[string]string{}
	for p, content := range treeFiles(t, tree) {
		rel := strings.TrimPrefix(p, root+"/")
		if strings.HasPrefix(content, "-> ") {
			ours[rel] = content
			continue
		}
		sum := sha256.Sum256([]byte(content))
		ours[rel] = "sha256:" + hex.EncodeToString(sum[:])
	}

	allowed := map[string]bool{}
	for _, e := range expected {
		allowed[e.path] = true
		th, inTheirs := theirs[e.path]
		oh, inOurs := ours[e.path]
		switch e.kind {
		case "differs":
			if !inTheirs || !inOurs || th == oh {
				t.Errorf("listed difference did not appear: %s should exist in both and differ (pip %v, harden %v, equal %v)", e.path, inTheirs, inOurs, th == oh)
			}
		case "pip only":
			if !inTheirs || inOurs {
				t.Errorf("listed difference did not appear: %s should exist only in pip's output (pip %v, harden %v)", e.path, inTheirs, inOurs)
			}
		}
	}
	var problems []string
	for p, th := range theirs {
		if allowed[p] {
			continue
		}
		oh, ok := ours[p]
		switch {
		case !ok:
			problems = append(problems, "only pip installed "+p)
		case oh != th:
			problems = append(problems, fmt.Sprintf("%s differs (pip %s, harden %s)", p, th, oh))
		}
	}
	for p := range ours {
		if _, ok := theirs[p]; !ok && !allowed[p] {
			problems = append(problems, "only harden installed "+p)
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		if len(problems) > 30 {
			problems = append(problems[:30], fmt.Sprintf("... and %d more", len(problems)-30))
		}
		t.Errorf("unexpected differences from pip:\n  %s", strings.Join(problems, "\n  "))
	}
	t.Logf("%d wheels, %d files: identical to pip except %d listed differences", len(wheels), len(theirs), len(expected))
}
