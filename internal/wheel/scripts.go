package wheel

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// entryPoint is a parsed "module[:attr[.attr...]] [extras]" value.
type entryPoint struct {
	module string
	attrs  []string // empty for the module-only form
}

// parseEntryPointValue validates an entry point value. Extras are
// accepted and dropped: they only matter to resolvers.
func parseEntryPointValue(v string) (entryPoint, error) {
	s := strings.TrimSpace(v)
	if i := strings.IndexByte(s, '['); i >= 0 {
		if !strings.HasSuffix(s, "]") {
			return entryPoint{}, fmt.Errorf("unterminated extras in %q", v)
		}
		for _, ex := range strings.Split(s[i+1:len(s)-1], ",") {
			if ex = strings.TrimSpace(ex); ex != "" && !validComponent(ex, "._-") {
				return entryPoint{}, fmt.Errorf("bad extra %q in %q", ex, v)
			}
		}
		s = strings.TrimSpace(s[:i])
	}
	mod, attr, hasAttr := strings.Cut(s, ":")
	mod, attr = strings.TrimSpace(mod), strings.TrimSpace(attr)
	ep := entryPoint{module: mod}
	if !dottedName(mod) {
		return entryPoint{}, fmt.Errorf("%q is not a dotted module name in %q", mod, v)
	}
	if hasAttr {
		if !dottedName(attr) {
			return entryPoint{}, fmt.Errorf("%q is not a dotted attribute name in %q", attr, v)
		}
		ep.attrs = strings.Split(attr, ".")
	}
	return ep, nil
}

func dottedName(s string) bool {
	if s == "" {
		return false
	}
	for _, p := range strings.Split(s, ".") {
		if !identifier(p) {
			return false
		}
	}
	return true
}

var pyKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true, "async": true,
	"await": true, "break": true, "class": true, "continue": true, "def": true, "del": true, "elif": true,
	"else": true, "except": true, "finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true, "not": true, "or": true,
	"pass": true, "raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true,
}

// identifier approximates Python's rule (letters, digits, underscore; no
// leading digit; no keyword).
func identifier(s string) bool {
	if s == "" || pyKeywords[s] {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)):
		default:
			return false
		}
	}
	return true
}

// validScriptName keeps entry point names to single, printable path
// components so that a name can never address a file outside Scripts.
func validScriptName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 || !utf8.ValidString(s) || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if r == '/' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// wrapperScript renders the launcher for one console or gui entry point.
// On Linux both kinds get the same launcher.
func wrapperScript(interpreter, group, name string, ep entryPoint) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!%s\n", interpreter)
	target := ep.module
	if len(ep.attrs) > 0 {
		target += ":" + strings.Join(ep.attrs, ".")
	}
	fmt.Fprintf(&b, "# %s launcher for %s = %s (installed by harden)\n", group, name, target)
	if len(ep.attrs) == 0 {
		// Module-only form: run the module as "python -m" would.
		fmt.Fprintf(&b, "import runpy\n\nif __name__ == \"__main__\":\n    runpy.run_module(%q, run_name=\"__main__\", alter_sys=True)\n", ep.module)
		return b.Bytes()
	}
	call := "_entry_point"
	if len(ep.attrs) > 1 {
		call += "." + strings.Join(ep.attrs[1:], ".")
	}
	fmt.Fprintf(&b, "import sys\n\nfrom %s import %s as _entry_point\n\nif __name__ == \"__main__\":\n    sys.exit(%s())\n", ep.module, ep.attrs[0], call)
	return b.Bytes()
}

// rewriteShebang replaces a "#!python..." first line (including
// "#!pythonw" and any arguments) with "#!<interpreter>", as pip does.
// Other files are returned unchanged.
func rewriteShebang(data []byte, interpreter string) ([]byte, bool) {
	if !bytes.HasPrefix(data, []byte("#!python")) {
		return data, false
	}
	rest := []byte{}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		rest = data[i+1:]
	}
	out := make([]byte, 0, len(interpreter)+3+len(rest))
	out = append(out, "#!"...)
	out = append(out, interpreter...)
	out = append(out, '\n')
	return append(out, rest...), true
}
