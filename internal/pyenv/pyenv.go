// Package pyenv inspects a base image's filesystem to find its Python
// interpreter, version, install scheme and glibc level, without running
// anything from the image.
package pyenv

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/harden-dev/harden/internal/layer"
)

// Env is the Python environment of one platform image.
type Env struct {
	Interpreter  string `json:"interpreter"` // absolute, versioned, e.g. /usr/bin/python3.11
	Version      string `json:"version"`     // full version, e.g. 3.11.2
	Major        int    `json:"major"`
	Minor        int    `json:"minor"`
	Purelib      string `json:"purelib"`
	Platlib      string `json:"platlib"`
	Scripts      string `json:"scripts"`
	Data         string `json:"data"`
	Headers      string `json:"headers"`
	GlibcMajor   int    `json:"glibcMajor"`
	GlibcMinor   int    `json:"glibcMinor"`
	Arch         string `json:"arch"` // uname -m style: x86_64, aarch64
	ImageEnvPath string `json:"-"`
}

// Overrides are the optional harden.yaml python settings.
type Overrides struct {
	Interpreter  string
	SitePackages string
	Scripts      string
}

// KeepData selects the files Detect needs the contents of; pass it to
// layer.Flatten.
func KeepData(p string) bool {
	base := path.Base(p)
	switch {
	case p == "var/lib/dpkg/status", p == "etc/passwd", p == "etc/group":
		return true
	case strings.HasPrefix(base, "python3") && (strings.HasPrefix(p, "usr/bin/") || strings.HasPrefix(p, "usr/local/bin/")):
		return true
	case strings.HasPrefix(base, "libpython3") && strings.Contains(base, ".so"):
		return true
	case base == "libc.so.6" || (strings.HasPrefix(base, "libc-") && strings.HasSuffix(base, ".so")):
		return true
	}
	return false
}

var interpRe = regexp.MustCompile(`^/usr/(local/)?bin/python3\.(\d+)$`)

// Detect finds the interpreter in fs. imageEnv is the image config's Env
// (PYTHON_VERSION there is trusted first, as the official images set it);
// goArch is the image's architecture (amd64, arm64, ...).
func Detect(fs *layer.Tree, imageEnv []string, goArch, variant string, o Overrides) (*Env, error) {
	arch, err := UnameArch(goArch, variant)
	if err != nil {
		return nil, err
	}
	interp, minor, err := findInterpreter(fs, o.Interpreter)
	if err != nil {
		return nil, err
	}
	e := &Env{Interpreter: interp, Major: 3, Minor: minor, Arch: arch}
	if e.Version, err = fullVersion(fs, imageEnv, interp, minor); err != nil {
		return nil, err
	}
	if e.GlibcMajor, e.GlibcMinor, err = glibc(fs); err != nil {
		return nil, err
	}
	prefix := "/usr"
	site := fmt.Sprintf("/usr/lib/python3.%d/site-packages", minor)
	switch {
	case strings.HasPrefix(interp, "/usr/local/"):
		prefix = "/usr/local"
		site = fmt.Sprintf("/usr/local/lib/python3.%d/site-packages", minor)
	case isDir(fs, "usr/lib/python3/dist-packages"):
		// Debian and Ubuntu: the system interpreter reads locally installed
		// packages from /usr/local/lib/python3.N/dist-packages.
		prefix = "/usr/local"
		site = fmt.Sprintf("/usr/local/lib/python3.%d/dist-packages", minor)
	}
	if o.SitePackages != "" {
		site = o.SitePackages
	}
	e.Purelib, e.Platlib = site, site
	e.Scripts = prefix + "/bin"
	if o.Scripts != "" {
		e.Scripts = o.Scripts
	}
	e.Data = prefix
	e.Headers = fmt.Sprintf("%s/include/python3.%d", prefix, minor)
	return e, nil
}

func isDir(fs *layer.Tree, p string) bool {
	ent, _, err := fs.Resolve(p)
	return err == nil && ent.Type == tar.TypeDir
}

func findInterpreter(fs *layer.Tree, override string) (string, int, error) {
	if override != "" {
		m := interpRe.FindStringSubmatch(override)
		minor := 0
		if m != nil {
			minor, _ = strconv.Atoi(m[2])
		} else if mm := regexp.MustCompile(`python3\.(\d+)$`).FindStringSubmatch(override); mm != nil {
			minor, _ = strconv.Atoi(mm[1])
		} else {
			return "", 0, fmt.Errorf("python.interpreter %q must name a versioned interpreter such as /usr/bin/python3.11", override)
		}
		if ent, _, err := fs.Resolve(override); err != nil || ent.Type != tar.TypeReg {
			return "", 0, fmt.Errorf("python.interpreter %q is not a file in the base image; fix python.interpreter in harden.yaml", override)
		}
		return override, minor, nil
	}
	var found []string
	for _, pat := range []string{"usr/local/bin/python3.*", "usr/bin/python3.*"} {
		for _, p := range fs.Glob(pat) {
			if !interpRe.MatchString(p) {
				continue
			}
			if ent, _, err := fs.Resolve(p); err == nil && ent.Type == tar.TypeReg {
				found = append(found, p)
			}
		}
		if len(found) > 0 {
			break // an interpreter under /usr/local shadows the distribution's
		}
	}
	if len(found) == 0 {
		return "", 0, fmt.Errorf("no Python interpreter in the base image (looked for /usr/local/bin/python3.N and /usr/bin/python3.N); use a Python base or set python.interpreter in harden.yaml")
	}
	sort.Slice(found, func(i, j int) bool { return minorOf(found[i]) > minorOf(found[j]) })
	return found[0], minorOf(found[0]), nil
}

func minorOf(p string) int {
	m := interpRe.FindStringSubmatch(p)
	n, _ := strconv.Atoi(m[2])
	return n
}

func fullVersion(fs *layer.Tree, imageEnv []string, interp string, minor int) (string, error) {
	want := fmt.Sprintf("3.%d.", minor)
	for _, kv := range imageEnv {
		if v, ok := strings.CutPrefix(kv, "PYTHON_VERSION="); ok && strings.HasPrefix(v, want) {
			return v, nil
		}
	}
	if st, ok := fs.Get("var/lib/dpkg/status"); ok && st.Data != nil {
		if v := dpkgVersion(st.Data, fmt.Sprintf("python3.%d-minimal", minor)); v != "" {
			return v, nil
		}
	}
	re := regexp.MustCompile(`\b3\.` + strconv.Itoa(minor) + `\.\d+(?:(?:a|b|rc)\d+)?\b`)
	cands := []string{interp}
	cands = append(cands, fs.Glob(fmt.Sprintf("usr/lib/*/libpython3.%d.so*", minor))...)
	cands = append(cands, fs.Glob(fmt.Sprintf("usr/local/lib/libpython3.%d.so*", minor))...)
	cands = append(cands, fs.Glob(fmt.Sprintf("usr/lib/libpython3.%d.so*", minor))...)
	for _, c := range cands {
		ent, _, err := fs.Resolve(c)
		if err != nil || ent.Data == nil {
			continue
		}
		// Py_GetVersion's string "3.11.2 (main, ...)" is compiled in.
		if m := re.FindAll(ent.Data, -1); len(m) > 0 {
			return mostCommon(m), nil
		}
	}
	return "", fmt.Errorf("cannot tell the full version of %s (no PYTHON_VERSION, no dpkg record, no version string in the binary); set PYTHON_VERSION in the base image env", interp)
}

func mostCommon(ms [][]byte) string {
	counts := map[string]int{}
	best := ""
	for _, m := range ms {
		s := string(m)
		counts[s]++
		if counts[s] > counts[best] || (counts[s] == counts[best] && s < best) {
			best = s
		}
	}
	return best
}

// dpkgVersion returns the upstream version of pkg from a dpkg status file.
func dpkgVersion(status []byte, pkg string) string {
	sc := bufio.NewScanner(bytes.NewReader(status))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			in = false
			continue
		}
		if v, ok := strings.CutPrefix(line, "Package: "); ok {
			in = v == pkg
			continue
		}
		if v, ok := strings.CutPrefix(line, "Version: "); ok && in {
			if i := strings.Index(v, ":"); i >= 0 {
				v = v[i+1:] // epoch
			}
			if i := strings.IndexAny(v, "-+~"); i >= 0 {
				v = v[:i]
			}
			return v
		}
	}
	return ""
}

var glibcRe = regexp.MustCompile(`GNU C Library[^\n]*?release version (\d+)\.(\d+)`)
var libcNameRe = regexp.MustCompile(`libc-(\d+)\.(\d+)\.so$`)

func glibc(fs *layer.Tree) (int, int, error) {
	if len(fs.Glob("lib/ld-musl-*")) > 0 || len(fs.Glob("usr/lib/ld-musl-*")) > 0 {
		return 0, 0, fmt.Errorf("the base image uses musl libc; harden selects manylinux (glibc) wheels, so use a glibc base such as python:3.12-slim")
	}
	var cands []string
	for _, pat := range []string{"usr/lib/*/libc.so.6", "lib/*/libc.so.6", "usr/lib64/libc.so.6", "lib64/libc.so.6", "usr/lib/libc.so.6", "lib/libc.so.6"} {
		cands = append(cands, fs.Glob(pat)...)
	}
	for _, c := range cands {
		ent, real, err := fs.Resolve(c)
		if err != nil {
			continue
		}
		if m := libcNameRe.FindStringSubmatch(real); m != nil {
			a, _ := strconv.Atoi(m[1])
			b, _ := strconv.Atoi(m[2])
			return a, b, nil
		}
		if m := glibcRe.FindSubmatch(ent.Data); m != nil {
			a, _ := strconv.Atoi(string(m[1]))
			b, _ := strconv.Atoi(string(m[2]))
			return a, b, nil
		}
	}
	return 0, 0, fmt.Errorf("cannot find glibc in the base image (looked for libc.so.6); harden needs a glibc base to select manylinux wheels")
}

// UnameArch maps a Go/OCI architecture to the name wheel platform tags use.
func UnameArch(goArch, variant string) (string, error) {
	switch goArch {
	case "amd64":
		return "x86_64", nil
	case "arm64":
		return "aarch64", nil
	case "386":
		return "i686", nil
	case "arm":
		if variant == "v7" || variant == "" {
			return "armv7l", nil
		}
		return "", fmt.Errorf("unsupported arm variant %q", variant)
	case "ppc64le", "s390x":
		return goArch, nil
	}
	return "", fmt.Errorf("unsupported architecture %q", goArch)
}
