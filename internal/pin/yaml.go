package pin

import (
	"strconv"
	"strings"
)

const bom = "\ufeff"

// yamlState carries what one line tells about the lines after it.
type yamlState struct {
	blockIndent int  // >= 0: inside a block scalar whose parent sits at this column
	openQuote   byte // inside a quoted scalar that continues on the next line
}

// scanYAML finds the values of "image:" keys line by line, in block and
// single-line flow style. Block scalars and multi-line quoted scalars are
// skipped so text embedded in them is not reported.
func scanYAML(content []byte) []candidate {
	var out []candidate
	st := yamlState{blockIndent: -1}
	for i, ln := range splitLines(content) {
		s := ln.text
		p := 0
		if i == 0 && strings.HasPrefix(s, bom) {
			p = len(bom)
		}
		ind := skipWS(s, p)
		if st.openQuote != 0 {
			if end := closeQuote(s, 0, st.openQuote); end >= 0 {
				st.openQuote = 0
			}
			continue
		}
		if st.blockIndent >= 0 {
			if ind == len(s) || ind > st.blockIndent {
				continue
			}
			st.blockIndent = -1
		}
		if ind == len(s) || s[ind] == '#' || isDocMarker(s) {
			continue
		}
		st = scanYAMLLine(s, ind, func(col int, text string, plain bool) {
			out = append(out, candidate{off: ln.start + col, text: text, plain: plain})
		})
	}
	return out
}

func isDocMarker(s string) bool {
	if !strings.HasPrefix(s, "---") && !strings.HasPrefix(s, "...") {
		return false
	}
	return len(s) == 3 || isWS(s[3])
}

type emitFunc func(col int, text string, plain bool)

// scanYAMLLine handles one non-comment line starting at column p.
func scanYAMLLine(s string, p int, emit emitFunc) yamlState {
	st := yamlState{blockIndent: -1}
	parent := p
	for p < len(s) && s[p] == '-' && (p+1 == len(s) || isWS(s[p+1])) {
		parent = p
		p = skipWS(s, p+1)
	}
	if p >= len(s) || s[p] == '#' {
		return st
	}
	key, next, hasKey := blockKey(s, p)
	if hasKey {
		parent = p
		p = skipWS(s, next)
	}
	// Skip tags and anchors: "!!str x", "&img x".
	for p < len(s) && (s[p] == '!' || s[p] == '&') {
		for p < len(s) && !isWS(s[p]) {
			p++
		}
		p = skipWS(s, p)
	}
	if p >= len(s) || s[p] == '#' {
		return st
	}
	switch s[p] {
	case '|', '>':
		st.blockIndent = parent
		return st
	case '{', '[':
		st.openQuote = scanFlow(s, p, emit)
		return st
	case '"', '\'':
		end := closeQuote(s, p+1, s[p])
		if end < 0 {
			st.openQuote = s[p]
			return st
		}
		if hasKey && key == "image" {
			if text, ok := unquote(s[p+1:end], s[p]); ok {
				emit(p+1, text, false)
			}
		}
		return st
	}
	if hasKey && key == "image" {
		end := p
		for end < len(s) && !(s[end] == '#' && isWS(s[end-1])) {
			end++
		}
		emit(p, trimRightWS(s[p:end]), true)
	}
	return st
}

// blockKey parses a block mapping key at p and returns it with the offset
// just after its ':'.
func blockKey(s string, p int) (key string, next int, ok bool) {
	switch s[p] {
	case '"', '\'':
		end := closeQuote(s, p+1, s[p])
		if end < 0 {
			return "", 0, false
		}
		j := skipWS(s, end+1)
		if j >= len(s) || s[j] != ':' {
			return "", 0, false
		}
		key, _ = unquote(s[p+1:end], s[p])
		return key, j + 1, true
	case '{', '[', '?', '*', '&', '!', '|', '>', '%', '@', '`', '#':
		return "", 0, false
	}
	for j := p; j < len(s); j++ {
		switch {
		case s[j] == ':' && (j+1 == len(s) || isWS(s[j+1])):
			return trimRightWS(s[p:j]), j + 1, true
		case s[j] == '#' && j > p && isWS(s[j-1]):
			return "", 0, false
		}
	}
	return "", 0, false
}

// closeQuote returns the index of the quote closing a scalar whose content
// starts at i, or -1 if it does not close on this line.
func closeQuote(s string, i int, q byte) int {
	for i < len(s) {
		switch {
		case q == '"' && s[i] == '\\':
			i += 2
		case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i += 2
		case s[i] == q:
			return i
		default:
			i++
		}
	}
	return -1
}

// unquote returns the content of a quoted scalar when it is written
// literally; escapes would make the written text differ from the value.
func unquote(raw string, q byte) (string, bool) {
	if (q == '"' && strings.Contains(raw, `\`)) || (q == '\'' && strings.Contains(raw, "''")) {
		return "", false
	}
	return raw, true
}

type flowTok struct {
	kind  byte // one of "{}[],:" or 's' for a scalar
	start int
	text  string
	plain bool
	ok    bool // scalar text is written literally
}

// scanFlow tokenizes a flow collection starting at s[p] and reports the
// values of "image" keys. It returns the quote character if a quoted
// scalar runs past the end of the line.
func scanFlow(s string, p int, emit emitFunc) byte {
	var toks []flowTok
	depth := 0
scan:
	for p < len(s) {
		c := s[p]
		switch {
		case isWS(c):
			p++
		case c == '#' && (p == 0 || isWS(s[p-1])):
			break scan
		case strings.IndexByte("{}[],:", c) >= 0:
			toks = append(toks, flowTok{kind: c, start: p})
			p++
			switch c {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth <= 0 {
					break scan
				}
			}
		case c == '"' || c == '\'':
			end := closeQuote(s, p+1, c)
			if end < 0 {
				return c
			}
			text, ok := unquote(s[p+1:end], c)
			toks = append(toks, flowTok{kind: 's', start: p + 1, text: text, ok: ok})
			p = end + 1
		default:
			j := p
			for j < len(s) {
				if strings.IndexByte(",[]{}", s[j]) >= 0 {
					break
				}
				if s[j] == ':' && (j+1 == len(s) || isWS(s[j+1]) || strings.IndexByte(",[]{}", s[j+1]) >= 0) {
					break
				}
				if s[j] == '#' && isWS(s[j-1]) {
					break
				}
				j++
			}
			if j == p {
				// A lone ':' followed by text, e.g. ":x"; take it as plain.
				j++
			}
			toks = append(toks, flowTok{kind: 's', start: p, text: trimRightWS(s[p:j]), plain: true, ok: true})
			p = j
		}
	}
	for i := 1; i+2 < len(toks); i++ {
		k, colon, v := toks[i], toks[i+1], toks[i+2]
		prev := toks[i-1].kind
		if k.kind == 's' && k.ok && k.text == "image" && colon.kind == ':' && v.kind == 's' && v.ok &&
			(prev == '{' || prev == '[' || prev == ',') {
			emit(v.start, v.text, v.plain)
		}
	}
	return 0
}

// yamlNonString reports plain scalars YAML reads as null, bool or number.
func yamlNonString(s string) bool {
	switch strings.ToLower(s) {
	case "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n":
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
