package lock

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// Env is a PEP 508 marker environment: variable name to value.
type Env map[string]string

// WithExtra is a copy of e with "extra" set, for evaluating the
// requirements an extra brings in.
func (e Env) WithExtra(extra string) Env {
	out := make(Env, len(e)+1)
	for k, v := range e {
		out[k] = v
	}
	out["extra"] = extra
	return out
}

// markerVars are the PEP 508 variables; legacy dotted spellings that
// packaging still accepts map to their modern names.
var markerVars = map[string]string{
	"python_version":                 "python_version",
	"python_full_version":            "python_full_version",
	"os_name":                        "os_name",
	"sys_platform":                   "sys_platform",
	"platform_release":               "platform_release",
	"platform_system":                "platform_system",
	"platform_version":               "platform_version",
	"platform_machine":               "platform_machine",
	"platform_python_implementation": "platform_python_implementation",
	"implementation_name":            "implementation_name",
	"implementation_version":         "implementation_version",
	"extra":                          "extra",
	"os.name":                        "os_name",
	"sys.platform":                   "sys_platform",
	"platform.version":               "platform_version",
	"platform.machine":               "platform_machine",
	"platform.python_implementation": "platform_python_implementation",
	"python_implementation":          "platform_python_implementation",
}

// maxMarkerDepth bounds parenthesis nesting so hostile input cannot
// exhaust the stack.
const maxMarkerDepth = 64

// Marker is a parsed PEP 508 environment marker.
type Marker struct {
	root mexpr
}

// mexpr is a node of a marker expression.
type mexpr interface {
	eval(env Env) (bool, error)
	write(b *strings.Builder, inAnd bool)
}

// boolExpr is an "and" or "or" of two or more operands.
type boolExpr struct {
	and   bool
	items []mexpr
}

// compareExpr is "<lhs> <op> <rhs>".
type compareExpr struct {
	lhs, rhs operand
	op       string // <, <=, ==, !=, >=, >, ~=, ===, in, "not in"
}

// operand is a variable (name set) or a string literal.
type operand struct {
	name  string
	value string
}

// ParseMarker parses a PEP 508 marker such as
// `python_version >= "3.8" and sys_platform != "win32"`.
func ParseMarker(s string) (*Marker, error) {
	toks, err := lexMarker(s)
	if err != nil {
		return nil, fmt.Errorf("marker %q: %w", s, err)
	}
	p := &markerParser{src: s, toks: toks}
	root, err := p.parseOr(0)
	if err == nil && p.peek().kind != tokEOF {
		err = p.errorf(p.peek(), "unexpected %s", p.peek().describe())
	}
	if err != nil {
		return nil, fmt.Errorf("marker %q: %w", s, err)
	}
	return &Marker{root: root}, nil
}

// Eval reports whether the marker holds in env. A variable the marker
// uses must be set in env, except "extra", which defaults to "".
func (m *Marker) Eval(env Env) (bool, error) {
	if m == nil || m.root == nil {
		return true, nil
	}
	ok, err := m.root.eval(env)
	if err != nil {
		return false, fmt.Errorf("evaluate marker %s: %w", m, err)
	}
	return ok, nil
}

// String returns the marker in canonical form: modern variable names,
// double quotes where possible, single spaces, minimal parentheses.
func (m *Marker) String() string {
	if m == nil || m.root == nil {
		return ""
	}
	var b strings.Builder
	m.root.write(&b, false)
	return b.String()
}

func (e *boolExpr) eval(env Env) (bool, error) {
	// Evaluate every operand so a bad comparison is reported whatever
	// the environment, not only when it is reached.
	result := e.and
	var errs []error
	for _, it := range e.items {
		ok, err := it.eval(env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if e.and {
			result = result && ok
		} else {
			result = result || ok
		}
	}
	if len(errs) > 0 {
		return false, errors.Join(errs...)
	}
	return result, nil
}

func (e *boolExpr) write(b *strings.Builder, inAnd bool) {
	paren := inAnd && !e.and
	if paren {
		b.WriteByte('(')
	}
	for i, it := range e.items {
		if i > 0 {
			if e.and {
				b.WriteString(" and ")
			} else {
				b.WriteString(" or ")
			}
		}
		it.write(b, e.and)
	}
	if paren {
		b.WriteByte(')')
	}
}

func (o operand) String() string {
	if o.name != "" {
		return o.name
	}
	if strings.Contains(o.value, `"`) {
		return "'" + o.value + "'"
	}
	return `"` + o.value + `"`
}

func (o operand) resolve(env Env) (string, error) {
	if o.name == "" {
		return o.value, nil
	}
	v, ok := env[o.name]
	if !ok {
		if o.name == "extra" {
			return "", nil
		}
		return "", fmt.Errorf("marker variable %s is not set in the environment", o.name)
	}
	return v, nil
}

func (e *compareExpr) write(b *strings.Builder, _ bool) {
	b.WriteString(e.lhs.String())
	b.WriteString(" " + e.op + " ")
	b.WriteString(e.rhs.String())
}

func (e *compareExpr) eval(env Env) (bool, error) {
	l, err := e.lhs.resolve(env)
	if err != nil {
		return false, err
	}
	r, err := e.rhs.resolve(env)
	if err != nil {
		return false, err
	}
	if e.lhs.name == "extra" || e.rhs.name == "extra" {
		l, r = NormalizeName(l), NormalizeName(r)
	}
	switch e.op {
	case "in":
		return strings.Contains(r, l), nil
	case "not in":
		return !strings.Contains(r, l), nil
	case "===":
		return strings.EqualFold(l, r), nil
	}
	if ok, handled := compareVersions(e.op, l, r); handled {
		return ok, nil
	}
	switch e.op {
	case "==":
		return l == r, nil
	case "!=":
		return l != r, nil
	case "<":
		return l < r, nil
	case "<=":
		return l <= r, nil
	case ">":
		return l > r, nil
	case ">=":
		return l >= r, nil
	}
	return false, fmt.Errorf("%s: %q %s %q needs PEP 440 versions on both sides", e.String(), l, e.op, r)
}

func (e *compareExpr) String() string {
	var b strings.Builder
	e.write(&b, false)
	return b.String()
}

// compareVersions applies a PEP 440 version operator the way
// packaging's Specifier.contains(lhs, prereleases=True) does, with rhs as
// the specifier version. handled is false when either side is not a
// version (or the specifier is invalid), so the caller falls back to
// string comparison.
func compareVersions(op, lhs, rhs string) (result, handled bool) {
	lv, err := pep440.Parse(lhs)
	if err != nil {
		return false, false
	}
	if op == "==" || op == "!=" {
		if prefix, ok := strings.CutSuffix(rhs, ".*"); ok {
			pv, err := pep440.Parse(prefix)
			if err != nil || pv.Local() != "" {
				return false, false
			}
			m := prefixMatch(lv, versionSplit(pv.String()))
			return m != (op == "!="), true
		}
	}
	rv, err := pep440.Parse(rhs)
	if err != nil {
		return false, false
	}
	if rv.Local() != "" && op != "==" && op != "!=" {
		return false, false // packaging rejects the specifier
	}
	public := func(v pep440.Version) pep440.Version {
		p, err := pep440.Parse(v.Public())
		if err != nil {
			return v
		}
		return p
	}
	sameBase := func(a, b pep440.Version) bool {
		x, err1 := pep440.Parse(a.BaseVersion())
		y, err2 := pep440.Parse(b.BaseVersion())
		return err1 == nil && err2 == nil && x.Equal(y)
	}
	switch op {
	case "==", "!=":
		p := lv
		if rv.Local() == "" {
			p = public(lv)
		}
		return p.Equal(rv) != (op == "!="), true
	case "<=":
		return public(lv).LessThanOrEqual(rv), true
	case ">=":
		return public(lv).GreaterThanOrEqual(rv), true
	case "<":
		if !lv.LessThan(rv) {
			return false, true
		}
		// <3.1 does not match 3.1.dev0 unless the bound is a pre-release.
		return !(!rv.IsPreRelease() && lv.IsPreRelease() && sameBase(lv, rv)), true
	case ">":
		if !lv.GreaterThan(rv) {
			return false, true
		}
		// >3.1 does not match 3.1.post1 or 3.1+local.
		if !rv.IsPostRelease() && lv.IsPostRelease() && sameBase(lv, rv) {
			return false, true
		}
		return !(lv.Local() != "" && sameBase(lv, rv)), true
	case "~=":
		if len(releaseSegments(rv)) < 2 {
			return false, false
		}
		var prefix []string
		for _, s := range versionSplit(rv.String()) {
			if isSuffixPart(s) {
				break
			}
			prefix = append(prefix, s)
		}
		prefix = prefix[:len(prefix)-1]
		return public(lv).GreaterThanOrEqual(rv) && prefixMatch(lv, prefix), true
	}
	return false, false
}

var preSplitRE = regexp.MustCompile(`^([0-9]+)((?:a|b|c|rc)[0-9]+)$`)

// versionSplit splits a normalised version into its epoch and dotted
// parts, with a pre-release split off its release number:
// "1!2.0rc1" → ["1","2","0","rc1"] (packaging's _version_split).
func versionSplit(v string) []string {
	epoch := "0"
	if i := strings.Index(v, "!"); i >= 0 {
		epoch, v = v[:i], v[i+1:]
	}
	out := []string{epoch}
	for _, item := range strings.Split(v, ".") {
		if m := preSplitRE.FindStringSubmatch(item); m != nil {
			out = append(out, m[1], m[2])
		} else {
			out = append(out, item)
		}
	}
	return out
}

func isSuffixPart(s string) bool {
	for _, p := range []string{"dev", "a", "b", "rc", "post"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// prefixMatch implements "== prefix.*": the public form of v, padded with
// zero release parts, starts with the split prefix.
func prefixMatch(v pep440.Version, prefix []string) bool {
	got := versionSplit(v.Public())
	nrel := func(s []string) int {
		n := 0
		for n < len(s) && isDigits(s[n]) {
			n++
		}
		return n
	}
	if gr, pr := nrel(got), nrel(prefix); gr < pr {
		padded := append([]string{}, got[:gr]...)
		for i := gr; i < pr; i++ {
			padded = append(padded, "0")
		}
		got = append(padded, got[gr:]...)
	}
	if len(got) < len(prefix) {
		return false
	}
	for i := range prefix {
		if got[i] != prefix[i] { // both sides are normalised strings
			return false
		}
	}
	return true
}

// ---- lexer ----

type tokKind int

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokString
	tokVar
	tokOp // comparison operator
	tokAnd
	tokOr
	tokNot
	tokIn
)

type mtoken struct {
	kind tokKind
	text string // operator, variable (canonical) or string value
	raw  string
	pos  int
}

func (t mtoken) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of marker"
	case tokString:
		return fmt.Sprintf("string %s", t.raw)
	default:
		return fmt.Sprintf("%q", t.raw)
	}
}

func lexMarker(s string) ([]mtoken, error) {
	var toks []mtoken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			toks = append(toks, mtoken{kind: tokLParen, raw: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, mtoken{kind: tokRParen, raw: ")", pos: i})
			i++
		case c == '"' || c == '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string at column %d", i+1)
			}
			v := s[i+1 : i+1+end]
			toks = append(toks, mtoken{kind: tokString, text: v, raw: s[i : i+end+2], pos: i})
			i += end + 2
		case strings.ContainsRune("<>=!~", rune(c)):
			op := ""
			for _, cand := range []string{"===", "==", "!=", "~=", "<=", ">=", "<", ">"} {
				if strings.HasPrefix(s[i:], cand) {
					op = cand
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("unknown operator at column %d; use one of <, <=, ==, !=, >=, >, ~=, ===, in, not in", i+1)
			}
			toks = append(toks, mtoken{kind: tokOp, text: op, raw: op, pos: i})
			i += len(op)
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			w := s[i:j]
			t := mtoken{raw: w, pos: i}
			switch w {
			case "and":
				t.kind = tokAnd
			case "or":
				t.kind = tokOr
			case "not":
				t.kind = tokNot
			case "in":
				t.kind = tokIn
			default:
				canon, ok := markerVars[w]
				if !ok {
					return nil, fmt.Errorf("unknown variable %q at column %d; PEP 508 variables are %s", w, i+1, knownVars())
				}
				t.kind, t.text = tokVar, canon
			}
			toks = append(toks, t)
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at column %d", rune(c), i+1)
		}
	}
	return append(toks, mtoken{kind: tokEOF, pos: len(s)}), nil
}

func knownVars() string {
	return "python_version, python_full_version, os_name, sys_platform, platform_release, platform_system, " +
		"platform_version, platform_machine, platform_python_implementation, implementation_name, implementation_version, extra"
}

// ---- parser ----
//
//	or      = and ("or" and)*
//	and     = atom ("and" atom)*
//	atom    = "(" or ")" | operand op operand
//	operand = variable | string

type markerParser struct {
	src  string
	toks []mtoken
	i    int
}

func (p *markerParser) peek() mtoken { return p.toks[p.i] }

func (p *markerParser) next() mtoken {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *markerParser) errorf(t mtoken, format string, args ...any) error {
	return fmt.Errorf("%s at column %d", fmt.Sprintf(format, args...), t.pos+1)
}

func (p *markerParser) parseOr(depth int) (mexpr, error) {
	first, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	items := []mexpr{first}
	for p.peek().kind == tokOr {
		p.next()
		e, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	return flatten(false, items), nil
}

func (p *markerParser) parseAnd(depth int) (mexpr, error) {
	first, err := p.parseAtom(depth)
	if err != nil {
		return nil, err
	}
	items := []mexpr{first}
	for p.peek().kind == tokAnd {
		p.next()
		e, err := p.parseAtom(depth)
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	return flatten(true, items), nil
}

// flatten merges nested operators of the same kind: "(a and b) and c"
// is "a and b and c".
func flatten(and bool, items []mexpr) mexpr {
	if len(items) == 1 {
		return items[0]
	}
	var out []mexpr
	for _, it := range items {
		if b, ok := it.(*boolExpr); ok && b.and == and {
			out = append(out, b.items...)
		} else {
			out = append(out, it)
		}
	}
	return &boolExpr{and: and, items: out}
}

func (p *markerParser) parseAtom(depth int) (mexpr, error) {
	if p.peek().kind == tokLParen {
		open := p.next()
		if depth >= maxMarkerDepth {
			return nil, p.errorf(open, "parentheses nested deeper than %d", maxMarkerDepth)
		}
		e, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, p.errorf(t, "expected ) to close ( at column %d, got %s", open.pos+1, t.describe())
		}
		return e, nil
	}
	lhs, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	var op string
	switch t := p.next(); t.kind {
	case tokOp:
		op = t.text
	case tokIn:
		op = "in"
	case tokNot:
		if u := p.next(); u.kind != tokIn {
			return nil, p.errorf(u, `expected "in" after "not", got %s`, u.describe())
		}
		op = "not in"
	default:
		return nil, p.errorf(t, "expected a comparison operator after %s, got %s", lhs, t.describe())
	}
	rhs, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	return &compareExpr{lhs: lhs, rhs: rhs, op: op}, nil
}

func (p *markerParser) parseOperand() (operand, error) {
	switch t := p.next(); t.kind {
	case tokVar:
		return operand{name: t.text}, nil
	case tokString:
		return operand{value: t.text}, nil
	default:
		return operand{}, p.errorf(t, "expected a variable or a quoted string, got %s", t.describe())
	}
}
