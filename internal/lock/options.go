package lock

import (
	"fmt"
	"net/url"
	"strings"
)

// optKind says what harden does with a pip option in a requirements file.
type optKind int

const (
	optIndexURL optKind = iota
	optExtraIndexURL
	optHash
	optNoop     // accepted; it changes nothing for harden
	optEditable // refused: editable install
	optInclude  // refused: -r/-c
	optRefused  // refused with optSpec.fix
)

type optSpec struct {
	kind  optKind
	value bool   // takes a value
	fix   string // for optRefused
}

const (
	fixNoFindLinks = `remove it: harden fetches wheels from index.url in harden.yaml or from --wheel-dir`
	allowedOptions = `--index-url/-i, --extra-index-url, --require-hashes, --pre, --prefer-binary, --only-binary`
)

var pipOptions = map[string]optSpec{
	"-i":                {kind: optIndexURL, value: true},
	"--index-url":       {kind: optIndexURL, value: true},
	"--extra-index-url": {kind: optExtraIndexURL, value: true},
	"--hash":            {kind: optHash, value: true},
	"--require-hashes":  {kind: optNoop},
	"--pre":             {kind: optNoop},
	"--prefer-binary":   {kind: optNoop},
	"--only-binary":     {kind: optNoop, value: true},
	"-e":                {kind: optEditable, value: true},
	"--editable":        {kind: optEditable, value: true},
	"-r":                {kind: optInclude, value: true},
	"--requirement":     {kind: optInclude, value: true},
	"-c":                {kind: optInclude, value: true},
	"--constraint":      {kind: optInclude, value: true},
	"-f":                {kind: optRefused, value: true, fix: fixNoFindLinks},
	"--find-links":      {kind: optRefused, value: true, fix: fixNoFindLinks},
	"--no-index":        {kind: optRefused, fix: fixNoFindLinks},
	"--no-binary":       {kind: optRefused, value: true, fix: `remove it: harden installs wheels only`},
	"--trusted-host":    {kind: optRefused, value: true, fix: `remove it: harden fetches packages over verified HTTPS only`},
}

// pipOpt is one option occurrence on a logical line.
type pipOpt struct {
	name, value string
	spec        optSpec
	line        int
}

// problem is a located parse problem, before it gets the file's path.
type problem struct {
	line         int
	problem, fix string
	err          error
}

func (p problem) at(path string) *ParseError {
	return &ParseError{Path: path, Line: p.line, Problem: p.problem, Fix: p.fix, Err: p.err}
}

// parseOptions reads "--name=value", "--name value", "-n value" and
// "-nvalue" forms. An unknown option stops the scan, since it is unknown
// whether the next word is its value.
func parseOptions(ll logicalLine, toks []token) ([]pipOpt, []problem) {
	var out []pipOpt
	var probs []problem
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		line := ll.lineAt(t.off)
		name, val, hasVal := t.s, "", false
		if strings.HasPrefix(t.s, "--") {
			name, val, hasVal = strings.Cut(t.s, "=")
		} else if len(t.s) > 2 {
			name, val, hasVal = t.s[:2], t.s[2:], true
		}
		spec, ok := pipOptions[name]
		if !ok {
			probs = append(probs, problem{line: line, problem: fmt.Sprintf("unknown option %s", name),
				fix: "remove it (requirement files may use " + allowedOptions + " and --hash)"})
			break
		}
		if spec.value && !hasVal {
			if i+1 >= len(toks) {
				probs = append(probs, problem{line: line, problem: fmt.Sprintf("option %s needs a value", name),
					fix: fmt.Sprintf("write it as %s=<value>", name)})
				break
			}
			i++
			val = toks[i].s
		} else if !spec.value && hasVal {
			probs = append(probs, problem{line: line, problem: fmt.Sprintf("option %s takes no value", name),
				fix: fmt.Sprintf("write just %s", name)})
			continue
		}
		out = append(out, pipOpt{name: name, value: val, spec: spec, line: line})
	}
	return out, probs
}

// checkIndexURL accepts an http(s) URL with a host.
func checkIndexURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// indexes collects --index-url and --extra-index-url options.
type indexes struct {
	url      string
	urlLine  int
	extra    []string
	problems []problem
}

// global handles an option on a line of its own; what names the kind of
// file for messages ("a lock") and incFix says how to do without -r/-c.
func (ix *indexes) global(o pipOpt, what, incFix string) {
	switch o.spec.kind {
	case optIndexURL, optExtraIndexURL:
		if err := checkIndexURL(o.value); err != nil {
			ix.problems = append(ix.problems, problem{line: o.line, problem: fmt.Sprintf("%s: %v", o.name, err),
				fix: "use the index's https URL, e.g. https://pypi.org/simple", err: err})
			return
		}
		if o.spec.kind == optExtraIndexURL {
			for _, e := range ix.extra {
				if e == o.value {
					return
				}
			}
			ix.extra = append(ix.extra, o.value)
			return
		}
		if ix.url != "" && ix.url != o.value {
			ix.problems = append(ix.problems, problem{line: o.line,
				problem: fmt.Sprintf("second --index-url %s (line %d set %s)", o.value, ix.urlLine, ix.url),
				fix:     "keep one --index-url; use --extra-index-url for more"})
			return
		}
		ix.url, ix.urlLine = o.value, o.line
	case optNoop:
	case optHash:
		ix.problems = append(ix.problems, problem{line: o.line, problem: fmt.Sprintf("--hash=%s follows no requirement", o.value),
			fix: `put it on the requirement's line, continuing the line with "\"`})
	case optEditable:
		ix.problems = append(ix.problems, problem{line: o.line, problem: fmt.Sprintf("%s %s: editable requirements are not allowed in %s", o.name, o.value, what),
			fix: fixWheels})
	case optInclude:
		ix.problems = append(ix.problems, problem{line: o.line, problem: fmt.Sprintf("%s %s: includes are not allowed in %s", o.name, o.value, what),
			fix: incFix})
	case optRefused:
		ix.problems = append(ix.problems, problem{line: o.line, problem: fmt.Sprintf("option %s is not supported", o.name), fix: o.spec.fix})
	}
}
