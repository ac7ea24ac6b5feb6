package wheel

import (
	"fmt"
	"strings"
)

// Target describes the interpreter and platform of the image being built.
//
// GlibcMajor == 0 means the C library is unknown: then no platform-specific
// tag is supported and only "...-none-any" (pure) wheels are selected. An
// empty Implementation means "cp".
type Target struct {
	PythonMajor, PythonMinor int    // 3, 11
	Implementation           string // "cp"
	Arch                     string // uname -m style: "x86_64", "aarch64"
	GlibcMajor, GlibcMinor   int    // 2, 36
}

// Legacy manylinux names (PEP 513, 571, 599) and the glibc they stand for.
var legacyManylinux = map[[2]int]string{{2, 17}: "manylinux2014", {2, 12}: "manylinux2010", {2, 5}: "manylinux1"}

// Tags returns the supported tags, most preferred first. The order follows
// packaging.tags.sys_tags() for CPython on a manylinux system:
//
//	cp311-cp311-P, cp311-abi3-P, cp311-none-P, cp310..cp32-abi3-P,
//	py311-none-P, py3-none-P, py310..py30-none-P,
//	cp311-none-any, py311-none-any, py3-none-any, py310..py30-none-any
//
// where P runs over the platforms, newest first: manylinux_2_<glibc>_<arch>
// down to manylinux_2_17 (2_5 on x86_64/i686), each legacy alias
// (manylinux2014/2010/1) right after the PEP 600 tag it equals.
//
// Deliberately left out: musllinux (the targets are glibc images) and
// linux_<arch>. A linux_<arch> wheel was built against one machine's
// libraries and declares no glibc floor; PyPI refuses them, and a lock that
// names one would build an image that may not run. pip would accept it
// (last); harden does not.
func (t Target) Tags() []Tag {
	if t.PythonMajor <= 0 || t.PythonMinor < 0 {
		return nil
	}
	impl := strings.ToLower(t.Implementation)
	if impl == "" {
		impl = "cp"
	}
	plats := t.platforms()
	interp := fmt.Sprintf("%s%d%d", impl, t.PythonMajor, t.PythonMinor)
	var out []Tag
	add := func(py, abi string, plats []string) {
		for _, p := range plats {
			out = append(out, Tag{py, abi, p})
		}
	}
	if impl == "cp" {
		abi := interp
		if t.PythonMajor == 3 && t.PythonMinor < 8 {
			abi += "m" // pymalloc ABI suffix, dropped in 3.8
		}
		add(interp, abi, plats)
		abi3 := t.PythonMajor == 3 && t.PythonMinor >= 2
		if abi3 {
			add(interp, "abi3", plats)
		}
		add(interp, "none", plats)
		if abi3 {
			for m := t.PythonMinor - 1; m >= 2; m-- {
				add(fmt.Sprintf("cp%d%d", t.PythonMajor, m), "abi3", plats)
			}
		}
	} else {
		// Other implementations: the interpreter's own ABI is not modelled.
		add(interp, "none", plats)
	}
	pys := t.pyRange()
	for _, py := range pys {
		add(py, "none", plats)
	}
	out = append(out, Tag{interp, "none", "any"})
	for _, py := range pys {
		out = append(out, Tag{py, "none", "any"})
	}
	return out
}

// pyRange is py311, py3, py310, ..., py30.
func (t Target) pyRange() []string {
	out := []string{fmt.Sprintf("py%d%d", t.PythonMajor, t.PythonMinor), fmt.Sprintf("py%d", t.PythonMajor)}
	for m := t.PythonMinor - 1; m >= 0; m-- {
		out = append(out, fmt.Sprintf("py%d%d", t.PythonMajor, m))
	}
	return out
}

// normArch maps Go/OCI names to uname names and applies the tag escaping
// of packaging (lowercase, "-" and "." become "_").
func normArch(a string) string {
	a = strings.ToLower(a)
	switch a {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return strings.NewReplacer("-", "_", ".", "_").Replace(a)
}

func (t Target) platforms() []string {
	arch := normArch(t.Arch)
	if arch == "" || t.GlibcMajor < 2 {
		return nil
	}
	archs := []string{arch}
	if arch == "armv8l" {
		archs = append(archs, "armv7l") // as packaging: armv8l runs armv7l code
	}
	var out []string
	for _, a := range archs {
		// manylinux tags exist from glibc 2.5 on x86/i686 and 2.17 elsewhere.
		floor := 17
		if a == "x86_64" || a == "i686" {
			floor = 5
		}
		for major := t.GlibcMajor; major >= 2; major-- {
			top := t.GlibcMinor
			if major != t.GlibcMajor {
				top = 50 // packaging's guess for the last minor of an older major
			}
			bottom := 0
			if major == 2 {
				bottom = floor
			}
			for minor := top; minor >= bottom; minor-- {
				out = append(out, fmt.Sprintf("manylinux_%d_%d_%s", major, minor, a))
				if legacy, ok := legacyManylinux[[2]int{major, minor}]; ok {
					out = append(out, legacy+"_"+a)
				}
			}
		}
	}
	return out
}

// Select returns the most preferred compatible wheel among files, or false.
// Files are ranked by their best tag; ties go to the higher build tag, then
// to the lexically smaller filename so the choice never depends on order.
func (t Target) Select(files []Filename) (Filename, bool) {
	prio := map[Tag]int{}
	for i, tag := range t.Tags() {
		if _, ok := prio[tag]; !ok {
			prio[tag] = i
		}
	}
	best, bestRank := -1, 0
	for i, f := range files {
		rank := -1
		for _, tag := range f.Tags {
			if p, ok := prio[tag]; ok && (rank < 0 || p < rank) {
				rank = p
			}
		}
		if rank < 0 {
			continue
		}
		if best < 0 || rank < bestRank || rank == bestRank && betterTie(f, files[best]) {
			best, bestRank = i, rank
		}
	}
	if best < 0 {
		return Filename{}, false
	}
	return files[best], true
}

func betterTie(a, b Filename) bool {
	if c := compareBuild(a.Build, b.Build); c != 0 {
		return c > 0
	}
	return a.Raw < b.Raw
}

// compareBuild orders build tags as the spec says: by the leading number,
// then by the rest as a string; any build tag beats none.
func compareBuild(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	na, ra := splitDigits(a)
	nb, rb := splitDigits(b)
	if c := compareNumeric(na, nb); c != 0 {
		return c
	}
	return strings.Compare(ra, rb)
}

func splitDigits(s string) (string, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

// compareNumeric compares decimal strings of any length.
func compareNumeric(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
