package wheel

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tag is one compatibility tag triple.
type Tag struct{ Python, ABI, Platform string }

// String renders the tag as "python-abi-platform".
func (t Tag) String() string { return t.Python + "-" + t.ABI + "-" + t.Platform }

// Filename is a parsed wheel filename.
type Filename struct {
	Name    string // distribution name as written in the filename ("prompt_toolkit")
	Version string
	Build   string // optional build tag, starts with a digit
	Tags    []Tag  // compressed tag sets expanded, lowercased, in filename order
	Raw     string
}

var sdistSuffixes = []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip"}

// SplitSdist splits a source distribution filename ("name-1.0.tar.gz")
// into its project name and version; ok is false for anything else.
func SplitSdist(filename string) (project, version string, ok bool) {
	for _, suf := range sdistSuffixes {
		base, found := strings.CutSuffix(filename, suf)
		if !found {
			continue
		}
		i := strings.LastIndex(base, "-")
		if i <= 0 || i == len(base)-1 {
			return "", "", false
		}
		return base[:i], base[i+1:], true
	}
	return "", "", false
}

// ParseFilename parses "{name}-{version}(-{build})?-{py}-{abi}-{plat}.whl".
func ParseFilename(name string) (Filename, error) {
	fail := func(why string) (Filename, error) {
		return Filename{}, fmt.Errorf("%q is not a valid wheel filename: %s", name, why)
	}
	if !strings.HasSuffix(name, ".whl") {
		lower := strings.ToLower(name)
		for _, s := range sdistSuffixes {
			if strings.HasSuffix(lower, s) {
				return Filename{}, fmt.Errorf("%q is an sdist; harden installs wheels only: lock a wheel of this project or build one and publish it to your index", name)
			}
		}
		if strings.HasSuffix(lower, ".egg") {
			return Filename{}, fmt.Errorf("%q is an egg; harden installs wheels only: lock a wheel of this project", name)
		}
		return fail("it does not end in .whl")
	}
	if !utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00") {
		return fail("it must be a plain file name")
	}
	parts := strings.Split(strings.TrimSuffix(name, ".whl"), "-")
	if len(parts) != 5 && len(parts) != 6 {
		return fail("expected {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl")
	}
	f := Filename{Name: parts[0], Version: parts[1], Raw: name}
	if !validComponent(f.Name, "._") {
		return fail("bad distribution name " + quote(f.Name))
	}
	if !validComponent(f.Version, ".+!_") {
		return fail("bad version " + quote(f.Version))
	}
	if len(parts) == 6 {
		f.Build = parts[2]
		if !validComponent(f.Build, "._") || f.Build[0] < '0' || f.Build[0] > '9' {
			return fail("build tag " + quote(f.Build) + " must start with a digit")
		}
	}
	n := len(parts)
	pys, abis, plats := strings.Split(parts[n-3], "."), strings.Split(parts[n-2], "."), strings.Split(parts[n-1], ".")
	for _, set := range [][]string{pys, abis, plats} {
		for _, c := range set {
			if c == "" || !tagChars(c) {
				return fail("bad tag " + quote(parts[n-3]+"-"+parts[n-2]+"-"+parts[n-1]))
			}
		}
	}
	seen := map[Tag]bool{}
	for _, py := range pys {
		for _, abi := range abis {
			for _, pl := range plats {
				t := Tag{strings.ToLower(py), strings.ToLower(abi), strings.ToLower(pl)}
				if !seen[t] {
					seen[t] = true
					f.Tags = append(f.Tags, t)
				}
			}
		}
	}
	return f, nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// validComponent: non-empty, alphanumeric first and last, and otherwise
// alphanumerics plus the given punctuation.
func validComponent(s, punct string) bool {
	if s == "" || !isAlnum(rune(s[0])) || !isAlnum(rune(s[len(s)-1])) {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && !strings.ContainsRune(punct, r) {
			return false
		}
	}
	return true
}

func tagChars(s string) bool {
	for _, r := range s {
		if !isAlnum(r) && r != '_' {
			return false
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// NormalizeName applies PEP 503 normalisation: lowercase, and every run of
// "-", "_" and "." becomes one "-".
func NormalizeName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	sep := false
	for _, r := range s {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}
