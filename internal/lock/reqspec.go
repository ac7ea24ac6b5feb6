package lock

import (
	"fmt"
	"regexp"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// clause is one version specifier clause, e.g. ">=3.8".
type clause struct{ op, version string }

func (c clause) String() string { return c.op + c.version }

// reqSpec is the PEP 508 part of a requirement line (no pip options).
type reqSpec struct {
	name    string
	extras  []string // as written
	clauses []clause
	marker  *Marker // nil without a marker
	mtext   string  // marker text as written, trimmed
}

// specError is a problem with a requirement, before it is placed at a
// path and line.
type specError struct {
	problem, fix string
	err          error
}

var (
	clauseRE = regexp.MustCompile(`^\s*(===|==|!=|~=|<=|>=|<|>)\s*(\S+)\s*$`)
	schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

var archiveSuffixes = []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip"}

// classifyLocation explains why a URL or path cannot be a requirement.
// what is the requirement as written.
func classifyLocation(what, loc string) *specError {
	l := strings.ToLower(loc)
	if i := strings.IndexAny(l, "#?"); i >= 0 {
		l = l[:i]
	}
	for _, suf := range archiveSuffixes {
		if strings.HasSuffix(l, suf) {
			return &specError{problem: what + " is an sdist/archive", fix: fixWheels}
		}
	}
	if strings.HasSuffix(l, ".whl") {
		return &specError{problem: what + " is a direct wheel URL or path",
			fix: "pin it as name==version with --hash=sha256:... and serve the wheel from your index or --wheel-dir"}
	}
	return &specError{problem: what + " is a URL or path requirement",
		fix: "pin a released version from your index as name==version with --hash=sha256:..."}
}

// looksLikeLocation reports whether the first word of a requirement is a
// URL or a local path rather than a project name.
func looksLikeLocation(word string) bool {
	if strings.HasPrefix(word, ".") || strings.HasPrefix(word, "/") || strings.HasPrefix(word, "~") ||
		strings.Contains(word, `\`) || schemeRE.MatchString(word) {
		return true
	}
	l := strings.ToLower(word)
	for _, suf := range append(archiveSuffixes, ".whl") {
		if strings.HasSuffix(l, suf) {
			return true
		}
	}
	return strings.Contains(word, "/")
}

// parseReqSpec parses "name[extras] specifiers ; marker".
func parseReqSpec(s string) (reqSpec, *specError) {
	s = strings.TrimSpace(s)
	var r reqSpec
	word := s
	if i := strings.IndexAny(word, " \t;"); i >= 0 {
		word = word[:i]
	}
	if looksLikeLocation(word) {
		return r, classifyLocation(word, word)
	}
	r.name = namePrefix.FindString(s)
	if r.name == "" {
		return r, &specError{problem: fmt.Sprintf("malformed requirement %q: it must start with a project name", s),
			fix: `write it as name==version (PEP 508), e.g. click==8.1.7`}
	}
	rest := strings.TrimLeft(s[len(r.name):], " \t")
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return r, &specError{problem: fmt.Sprintf("malformed extras in %q: missing ]", s), fix: `write extras as name[extra1,extra2]`}
		}
		for _, e := range strings.Split(rest[1:end], ",") {
			e = strings.TrimSpace(e)
			if e == "" && strings.TrimSpace(rest[1:end]) == "" {
				continue // "name[]" is allowed
			}
			if !validName(e) {
				return r, &specError{problem: fmt.Sprintf("malformed extra %q in %q", e, s), fix: `write extras as name[extra1,extra2] with letters, digits, ".", "_" and "-"`}
			}
			r.extras = append(r.extras, e)
		}
		rest = strings.TrimLeft(rest[end+1:], " \t")
	}
	if strings.HasPrefix(rest, "@") {
		loc := strings.TrimSpace(rest[1:])
		if i := strings.IndexAny(loc, " \t;"); i >= 0 {
			loc = loc[:i]
		}
		return r, classifyLocation(strings.TrimSpace(s[:len(s)-len(rest)])+" @ "+loc, loc)
	}
	spec, mtext, hasMarker := strings.Cut(rest, ";")
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "(") && strings.HasSuffix(spec, ")") {
		spec = strings.TrimSpace(spec[1 : len(spec)-1])
	}
	if spec != "" {
		for _, part := range strings.Split(spec, ",") {
			m := clauseRE.FindStringSubmatch(part)
			if m == nil {
				return r, &specError{problem: fmt.Sprintf("malformed version specifier %q in %q", strings.TrimSpace(part), s),
					fix: `use a PEP 440 specifier such as ==1.2.3 or >=1.2,<2`}
			}
			r.clauses = append(r.clauses, clause{op: m[1], version: m[2]})
		}
	}
	if hasMarker {
		r.mtext = strings.TrimSpace(mtext)
		if r.mtext == "" {
			return r, &specError{problem: fmt.Sprintf("empty marker after ';' in %q", s), fix: `remove the ';' or add a PEP 508 marker such as python_version >= "3.8"`}
		}
		m, err := ParseMarker(r.mtext)
		if err != nil {
			return r, &specError{problem: fmt.Sprintf("%s: bad %v", r.name, err),
				fix: `write a PEP 508 marker such as python_version >= "3.8" and sys_platform == "linux"`, err: err}
		}
		r.marker = m
	}
	return r, nil
}

// display is the requirement without its marker, e.g. "psycopg[binary]==3.2.3".
func (r reqSpec) display() string {
	var b strings.Builder
	b.WriteString(r.name)
	if len(r.extras) > 0 {
		b.WriteString("[" + strings.Join(r.extras, ",") + "]")
	}
	for i, c := range r.clauses {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// markerKey identifies a marker for duplicate detection.
func (r reqSpec) markerKey() string {
	if r.marker == nil {
		return ""
	}
	return r.marker.String()
}

// checkClause validates one specifier clause of a requirements.in line.
func checkClause(c clause) error {
	v := c.version
	switch c.op {
	case "===":
		return nil // arbitrary equality takes any string
	case "==", "!=":
		if base, ok := strings.CutSuffix(v, ".*"); ok {
			pv, err := pep440.Parse(base)
			if err != nil || strings.Contains(base, "*") {
				return fmt.Errorf("%q is not a valid version prefix", v)
			}
			if pv.Local() != "" {
				return fmt.Errorf("%q: a wildcard cannot have a local version", v)
			}
			return nil
		}
	}
	if strings.Contains(v, "*") {
		return fmt.Errorf("%q: wildcards are allowed only with == and !=", c.String())
	}
	pv, err := pep440.Parse(v)
	if err != nil {
		return fmt.Errorf("%q is not a PEP 440 version: %w", v, err)
	}
	if pv.Local() != "" && c.op != "==" && c.op != "!=" {
		return fmt.Errorf("%q: a local version (+...) is allowed only with == and !=", c.String())
	}
	if c.op == "~=" && len(releaseSegments(pv)) < 2 {
		return fmt.Errorf("%q: ~= needs at least two release segments, e.g. ~=1.4", c.String())
	}
	return nil
}

// releaseSegments returns the release numbers of v, e.g. ["1","4","2"].
func releaseSegments(v pep440.Version) []string {
	b := v.BaseVersion()
	if i := strings.Index(b, "!"); i >= 0 {
		b = b[i+1:]
	}
	return strings.Split(b, ".")
}
