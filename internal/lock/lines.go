package lock

import (
	"regexp"
	"strings"
)

// A "#" at the start of a line or after whitespace starts a comment (pip's
// COMMENT_RE), so URL fragments such as "x.whl#sha256=..." survive.
var commentRE = regexp.MustCompile(`(^|\s+)#.*$`)

// logicalLine is one line of a requirements file after joining backslash
// continuations, with enough bookkeeping to map a byte offset back to the
// physical line it came from.
type logicalLine struct {
	text    string
	first   int         // 1-based physical line where it starts
	marks   []lineStart // where each physical line begins in text
	comment bool        // the whole line is a comment
}

type lineStart struct{ off, line int }

// lineAt returns the physical line holding byte offset off of l.text.
func (l logicalLine) lineAt(off int) int {
	line := l.first
	for _, m := range l.marks {
		if m.off > off {
			break
		}
		line = m.line
	}
	return line
}

// splitLogical splits data into logical lines the way pip does: a line
// ending in "\" continues on the next one, but a comment line always
// ends the logical line before it.
func splitLogical(data string) []logicalLine {
	data = strings.TrimPrefix(data, "\ufeff")
	phys := strings.Split(data, "\n")
	if len(phys) > 0 && phys[len(phys)-1] == "" {
		phys = phys[:len(phys)-1]
	}
	var out []logicalLine
	var cur *logicalLine
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	for i, raw := range phys {
		n := i + 1
		raw = strings.TrimSuffix(raw, "\r")
		if strings.HasPrefix(strings.TrimLeft(raw, " \t"), "#") {
			flush()
			out = append(out, logicalLine{text: raw, first: n, comment: true})
			continue
		}
		if cur == nil {
			cur = &logicalLine{first: n}
		}
		cur.marks = append(cur.marks, lineStart{off: len(cur.text), line: n})
		if s, ok := strings.CutSuffix(raw, `\`); ok {
			cur.text += s
			continue
		}
		cur.text += raw
		flush()
	}
	flush()
	return out
}

// stripComment removes a trailing comment from s and returns the rest and
// the comment text (without "#"), if any.
func stripComment(s string) (rest, comment string) {
	loc := commentRE.FindStringIndex(s)
	if loc == nil {
		return s, ""
	}
	c := s[loc[0]:]
	return s[:loc[0]], strings.TrimSpace(c[strings.Index(c, "#")+1:])
}

// token is a whitespace-separated word and its byte offset.
type token struct {
	s   string
	off int
}

func fields(s string) []token {
	var out []token
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f' {
			if start >= 0 {
				out = append(out, token{s[start:i], start})
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

// splitArgsOptions splits the tokens of a line into the requirement part
// and the options part: the first token starting with "-" begins the
// options (pip's break_args_options).
func splitArgsOptions(toks []token) (args, opts []token) {
	for i, t := range toks {
		if strings.HasPrefix(t.s, "-") {
			return toks[:i], toks[i:]
		}
	}
	return toks, nil
}

func joinTokens(toks []token) string {
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = t.s
	}
	return strings.Join(parts, " ")
}
