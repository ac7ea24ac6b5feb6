package lock

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Input is a parsed requirements.in: the top-level intent, not pinned.
type Input struct {
	Path           string
	Requirements   []InputRequirement
	IndexURL       string // from --index-url/-i if present
	ExtraIndexURLs []string
}

// InputRequirement is one line of a requirements.in.
type InputRequirement struct {
	Name      string   // as written
	Key       string   // PEP 503 normalised
	Extras    []string // normalised, sorted
	Specifier string   // normalised clauses joined by ",", e.g. ">=3.1,<4"; "" for any version
	Marker    string   // PEP 508 marker text as written, "" if none
	Line      int
}

const fixIncludeInput = `list the requirements in this file itself`

// ParseInputFile parses the requirements.in at path. A missing file
// yields the *fs.PathError from os.ReadFile unwrapped.
func ParseInputFile(path string) (*Input, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseInput(data, path)
}

// ParseInput parses a requirements.in. path is used in messages.
func ParseInput(r io.Reader, path string) (*Input, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return parseInput(data, path)
}

func parseInput(data []byte, path string) (*Input, error) {
	in := &Input{Path: path}
	var ix indexes
	var probs []problem
	seen := map[string]int{}
	for _, ll := range splitLogical(string(data)) {
		if ll.comment {
			continue
		}
		text, _ := stripComment(ll.text)
		toks := fields(text)
		if len(toks) == 0 {
			continue
		}
		args, optToks := splitArgsOptions(toks)
		opts, ps := parseOptions(ll, optToks)
		probs = append(probs, ps...)
		if len(args) == 0 {
			for _, o := range opts {
				ix.global(o, "requirements.in", fixIncludeInput)
			}
			continue
		}
		line := ll.lineAt(args[0].off)
		for _, o := range opts {
			probs = append(probs, problem{line: o.line, problem: fmt.Sprintf("option %s is not allowed after a requirement in requirements.in", o.name),
				fix: `remove it: hashes belong in the lock, which "harden lock" writes`})
		}
		spec, serr := parseReqSpec(joinTokens(args))
		if serr != nil {
			probs = append(probs, problem{line: line, problem: serr.problem, fix: serr.fix, err: serr.err})
			continue
		}
		var clauses []string
		bad := false
		for _, c := range spec.clauses {
			if err := checkClause(c); err != nil {
				probs = append(probs, problem{line: line, problem: fmt.Sprintf("%s: %v", spec.display(), err),
					fix: `use PEP 440 specifiers such as ==4.3.0, >=3.1,<4 or ~=3.2`, err: err})
				bad = true
			}
			clauses = append(clauses, c.String())
		}
		if bad {
			continue
		}
		key := NormalizeName(spec.name)
		dupKey := key + "\x00" + spec.markerKey()
		if first, ok := seen[dupKey]; ok {
			probs = append(probs, problem{line: line, problem: fmt.Sprintf("%s is listed twice (first at line %d)", spec.name, first),
				fix: "merge the two lines into one requirement"})
			continue
		}
		seen[dupKey] = line
		in.Requirements = append(in.Requirements, InputRequirement{
			Name:      spec.name,
			Key:       key,
			Extras:    normalizeExtras(spec.extras),
			Specifier: strings.Join(clauses, ","),
			Marker:    spec.mtext,
			Line:      line,
		})
	}
	probs = append(probs, ix.problems...)
	if len(probs) > 0 {
		return nil, joinProblems(path, probs)
	}
	in.IndexURL, in.ExtraIndexURLs = ix.url, ix.extra
	return in, nil
}

// Lookup returns the first requirement whose Key is NormalizeName(key).
func (in *Input) Lookup(key string) (*InputRequirement, bool) {
	key = NormalizeName(key)
	for i := range in.Requirements {
		if in.Requirements[i].Key == key {
			return &in.Requirements[i], true
		}
	}
	return nil, false
}
