// Package bench holds benchmarks that compare harden with the tools it
// replaces. Run with `make bench`; nothing here asserts a timing.
package bench

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/layer"
	"github.com/harden-dev/harden/internal/wheel"
)

type wheelFile struct {
	path, name string
	data       []byte
}

// hostTarget describes the host's python, so that both installers get
// the same wheels, all installable by the host's pip.
func hostTarget(b *testing.B) wheel.Target {
	out, err := exec.Command("python3", "-c", "import platform,sys; l=platform.libc_ver()[1].split('.'); print(sys.version_info[0], sys.version_info[1], platform.machine(), l[0] if l[0] else 0, l[1] if len(l)>1 else 0)").Output()
	if err != nil {
		b.Skipf("python3 not usable (%v): cannot pick wheels for the host", err)
	}
	f := strings.Fields(string(out))
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return wheel.Target{PythonMajor: n(f[0]), PythonMinor: n(f[1]), Implementation: "cp", Arch: f[2], GlibcMajor: n(f[3]), GlibcMinor: n(f[4])}
}

// benchWheels is the fixture wheel set when built, else Debian's
// pip/setuptools/wheel wheels; one wheel per project, the host's best.
func benchWheels(b *testing.B) []wheelFile {
	dir := filepath.Join(os.Getenv("HARDEN_FIXTURES"), "wheels")
	if os.Getenv("HARDEN_FIXTURES") == "" {
		dir, _ = filepath.Abs(filepath.Join("..", ".cache", "fixtures", "wheels"))
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.whl"))
	if len(paths) == 0 {
		paths, _ = filepath.Glob("/usr/share/python-wheels/*.whl")
	}
	if len(paths) == 0 {
		b.Skip("no wheels: build the fixtures (make fixtures) or install python3-pip-whl")
	}
	target := hostTarget(b)
	byProject := map[string][]wheel.Filename{}
	where := map[string]string{}
	for _, p := range paths {
		fn, err := wheel.ParseFilename(filepath.Base(p))
		if err != nil {
			continue
		}
		key := wheel.NormalizeName(fn.Name)
		byProject[key] = append(byProject[key], fn)
		where[fn.Raw] = p
	}
	var out []wheelFile
	for _, files := range byProject {
		fn, ok := target.Select(files)
		if !ok {
			continue
		}
		data, err := os.ReadFile(where[fn.Raw])
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, wheelFile{path: where[fn.Raw], name: fn.Raw, data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func installNative(b *testing.B, wheels []wheelFile, root string) *layer.Tree {
	tree := layer.New()
	opts := wheel.InstallOptions{
		Scheme:      wheel.Scheme{Purelib: root, Platlib: root, Scripts: root + "/bin", Data: root, Headers: root + "/include/python"},
		Interpreter: "/usr/bin/python3",
		Requested:   true,
	}
	for _, w := range wheels {
		if _, err := wheel.Install(bytes.NewReader(w.data), int64(len(w.data)), w.name, tree, opts); err != nil {
			b.Fatal(err)
		}
	}
	return tree
}

func totalBytes(ws []wheelFile) int64 {
	var n int64
	for _, w := range ws {
		n += int64(len(w.data))
	}
	return n
}

// BenchmarkInstallNative installs the wheel set into an in-memory tree.
func BenchmarkInstallNative(b *testing.B) {
	wheels := benchWheels(b)
	b.Logf("%d wheels, %d bytes", len(wheels), totalBytes(wheels))
	b.SetBytes(totalBytes(wheels))
	b.ReportAllocs()
	for b.Loop() {
		installNative(b, wheels, "/usr/local/lib/python3/dist-packages")
	}
}

// BenchmarkInstallNativeTar adds serialising the tree to a tar stream, the
// step that stands in for pip's writes to disk.
func BenchmarkInstallNativeTar(b *testing.B) {
	wheels := benchWheels(b)
	b.SetBytes(totalBytes(wheels))
	b.ReportAllocs()
	for b.Loop() {
		tree := installNative(b, wheels, "/usr/local/lib/python3/dist-packages")
		if err := tree.WriteTar(io.Discard, time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstallPip runs pip on the same wheels, once per iteration, into
// a fresh --target dir: "no-compile" writes the same files as harden,
// "default" also byte-compiles as pip does unless told not to.
func BenchmarkInstallPip(b *testing.B) {
	pip, err := exec.LookPath("pip")
	if err != nil {
		b.Skipf("pip not on PATH: %v", err)
	}
	wheels := benchWheels(b)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PIP_") {
			env = append(env, kv)
		}
	}
	env = append(env, "PIP_CONFIG_FILE="+os.DevNull, "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1")
	for _, mode := range []string{"no-compile", "default"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(totalBytes(wheels))
			tmp := b.TempDir()
			i := 0
			for b.Loop() {
				target := filepath.Join(tmp, strconv.Itoa(i))
				i++
				args := []string{"install", "--quiet", "--no-index", "--no-deps", "--target", target}
				if mode == "no-compile" {
					args = append(args, "--no-compile")
				}
				for _, w := range wheels {
					args = append(args, w.path)
				}
				cmd := exec.Command(pip, args...)
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("pip: %v\n%s", err, out)
				}
			}
		})
	}
}
