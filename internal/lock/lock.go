package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// Requirement is one pinned entry of a hash-locked requirements file.
type Requirement struct {
	Name        string   // as written
	Key         string   // PEP 503 normalised (lowercase, runs of -_. → "-")
	Extras      []string // normalised, sorted
	Version     string   // the exact "==" pin
	Marker      string   // PEP 508 marker text as written, "" if none
	Hashes      []string // lowercase hex sha256 digests, in file order, deduplicated
	OtherHashes []string // "sha384:<hex>"/"sha512:<hex>", in file order, deduplicated
	Via         []string // from "# via" comments, if any
	Line        int      // 1-based line of the requirement
	// Provenance is what harden lock verified of each file's upstream
	// attestations ("# provenance:" comments), sorted by filename; nil
	// when the lock records none.
	Provenance []FileProvenance
}

// File is a parsed requirements.lock.
type File struct {
	Path           string
	Digest         string // "sha256:<hex>" of the raw bytes
	Requirements   []Requirement
	IndexURL       string // from --index-url/-i if present
	ExtraIndexURLs []string
}

const (
	fixIncludeLock = `the lock must be self-contained: ` + fixRelock + ` (it writes every pin into one file)`
)

// hash lengths in hex digits; sha256 is required, the others are kept.
var hashHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

var weakHashes = map[string]bool{"md5": true, "sha1": true, "sha224": true}

// ParseFile parses the lock at path. A missing file yields the
// *fs.PathError from os.ReadFile unwrapped, so os.IsNotExist works.
func ParseFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseLock(data, path)
}

// Parse parses a hash-locked requirements file. path is used in messages.
// All problems are reported at once, each as a *ParseError.
func Parse(r io.Reader, path string) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return parseLock(data, path)
}

type lockParser struct {
	f     *File
	ix    indexes
	probs []problem
	seen  map[string]int // key + "\x00" + marker → line
	inVia bool           // inside a multi-line "# via" list
	line  int            // physical line of the comment being read
	// orphan is set when the last requirement line was refused: its
	// comments are not checked against the pin before it.
	orphan bool
}

func parseLock(data []byte, path string) (*File, error) {
	sum := sha256.Sum256(data)
	p := &lockParser{
		f:    &File{Path: path, Digest: "sha256:" + hex.EncodeToString(sum[:])},
		seen: map[string]int{},
	}
	for _, ll := range splitLogical(string(data)) {
		p.logical(ll)
	}
	p.probs = append(p.probs, p.ix.problems...)
	if len(p.probs) == 0 && len(p.f.Requirements) == 0 {
		p.probs = append(p.probs, problem{line: 1, problem: "the lock pins no packages", fix: fixRelock + " from requirements.in"})
	}
	if len(p.probs) > 0 {
		return nil, joinProblems(path, p.probs)
	}
	p.f.IndexURL, p.f.ExtraIndexURLs = p.ix.url, p.ix.extra
	return p.f, nil
}

// joinProblems orders problems by line and joins them into one error.
func joinProblems(path string, probs []problem) error {
	sorted := append([]problem(nil), probs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].line < sorted[j].line })
	errs := make([]error, len(sorted))
	for i, p := range sorted {
		errs[i] = p.at(path)
	}
	return errors.Join(errs...)
}

func (p *lockParser) last() *Requirement {
	if n := len(p.f.Requirements); n > 0 {
		return &p.f.Requirements[n-1]
	}
	return nil
}

func (p *lockParser) logical(ll logicalLine) {
	p.line = ll.first
	if ll.comment {
		p.comment(strings.TrimLeft(ll.text, " \t")[1:])
		return
	}
	p.inVia = false
	text, cmt := stripComment(ll.text)
	toks := fields(text)
	if len(toks) == 0 {
		return
	}
	args, optToks := splitArgsOptions(toks)
	opts, probs := parseOptions(ll, optToks)
	p.probs = append(p.probs, probs...)
	if len(args) == 0 {
		for _, o := range opts {
			p.ix.global(o, "a lock", fixIncludeLock)
		}
		return
	}
	added := p.requirement(ll, args, opts)
	p.orphan = !added
	if added && cmt != "" {
		p.comment(cmt)
	}
}

// comment handles "# via a", "# via" followed by indented "#   a" lines,
// and the older "# via a, b" form; via lists attach to the requirement
// above. raw is the comment after its "#".
func (p *lockParser) comment(raw string) {
	c := strings.TrimSpace(raw)
	last := p.last()
	switch {
	case strings.HasPrefix(c, provenancePrefix):
		p.inVia = false
		p.provenance(last, strings.TrimPrefix(c, provenancePrefix))
	case c == "via":
		p.inVia = last != nil
	case strings.HasPrefix(c, "via "):
		p.inVia = false
		if last != nil {
			addVia(last, c[len("via "):])
		}
	case p.inVia && c != "" && strings.HasPrefix(raw, "  "):
		addVia(last, c)
	default:
		p.inVia = false
	}
}

// provenance reads a "# provenance:" comment into the pin above it.
func (p *lockParser) provenance(last *Requirement, text string) {
	if p.orphan {
		return
	}
	if last == nil {
		p.probs = append(p.probs, problem{line: p.line, problem: "a provenance comment comes before any pin", fix: fixRelock})
		return
	}
	fp, err := parseProvenance(text, last)
	if err != nil {
		p.probs = append(p.probs, problem{line: p.line, problem: fmt.Sprintf("%s: malformed provenance comment: %v", last.Name, err), fix: fixRelock + " (it writes these comments)", err: err})
		return
	}
	last.Provenance = append(last.Provenance, fp)
	SortProvenance(last.Provenance)
}

func addVia(r *Requirement, list string) {
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v != "" {
			r.Via = append(r.Via, v)
		}
	}
}

// requirement parses one pinned requirement; it reports whether the
// requirement was added.
func (p *lockParser) requirement(ll logicalLine, args []token, opts []pipOpt) bool {
	line := ll.lineAt(args[0].off)
	text := joinTokens(args)
	fail := func(prob, fix string, err error) {
		p.probs = append(p.probs, problem{line: line, problem: prob, fix: fix, err: err})
	}
	spec, serr := parseReqSpec(text)
	if serr != nil {
		fail(serr.problem, serr.fix, serr.err)
		return false
	}
	shown := spec.display()
	nprobs := len(p.probs)
	var version string
	fixPin := fmt.Sprintf(`pin it as %s==<version> with --hash=sha256:... (%s)`, spec.name, fixRelock)
	switch {
	case len(spec.clauses) == 0:
		fail(fmt.Sprintf("%s is not pinned", shown), fixPin, nil)
	case len(spec.clauses) > 1 || spec.clauses[0].op != "==":
		fail(fmt.Sprintf("%s is not pinned to an exact version with ==", shown), fixPin, nil)
	case strings.Contains(spec.clauses[0].version, "*"):
		fail(fmt.Sprintf("%s is a wildcard, not an exact pin", shown), fixPin, nil)
	default:
		version = spec.clauses[0].version
		if _, err := pep440.Parse(version); err != nil {
			fail(fmt.Sprintf("%s: malformed version %q", shown, version),
				"use a PEP 440 version such as 1.2.3 ("+fixRelock+")", err)
		}
	}

	req := Requirement{
		Name:    spec.name,
		Key:     NormalizeName(spec.name),
		Extras:  normalizeExtras(spec.extras),
		Version: version,
		Marker:  spec.mtext,
		Line:    line,
	}
	seen := map[string]bool{}
	for _, o := range opts {
		if o.spec.kind != optHash {
			p.probs = append(p.probs, problem{line: o.line, problem: fmt.Sprintf("option %s is not allowed after a requirement", o.name),
				fix: "only --hash=sha256:... may follow a pin; put other options on a line of their own"})
			continue
		}
		alg, digest, err := parseHash(o.value)
		if err != nil {
			p.probs = append(p.probs, problem{line: o.line, problem: fmt.Sprintf("%s: --hash=%s: %v", shown, o.value, err), fix: fixNeedHash, err: err})
			continue
		}
		if seen[alg+":"+digest] {
			continue
		}
		seen[alg+":"+digest] = true
		if alg == "sha256" {
			req.Hashes = append(req.Hashes, digest)
		} else {
			req.OtherHashes = append(req.OtherHashes, alg+":"+digest)
		}
	}
	if len(req.Hashes) == 0 && len(p.probs) == nprobs {
		if len(req.OtherHashes) == 0 {
			fail(fmt.Sprintf("%s has no --hash", shown), fixNeedHash, nil)
		} else {
			fail(fmt.Sprintf("%s has no sha256 --hash", shown), fixNeedHash, nil)
		}
	}
	dupKey := req.Key + "\x00" + spec.markerKey()
	if first, ok := p.seen[dupKey]; ok {
		fail(fmt.Sprintf("%s is pinned twice (first at line %d)", spec.name, first),
			"keep one pin per package, or give the pins mutually exclusive markers: "+fixRelock, nil)
	}
	if len(p.probs) > nprobs {
		return false
	}
	p.seen[dupKey] = line
	p.f.Requirements = append(p.f.Requirements, req)
	return true
}

// parseHash splits "alg:hex", refusing weak or unknown algorithms.
func parseHash(v string) (alg, digest string, err error) {
	alg, digest, ok := strings.Cut(v, ":")
	alg = strings.ToLower(alg)
	if !ok || digest == "" {
		return "", "", errors.New("want the form sha256:<hex digest>")
	}
	if weakHashes[alg] {
		return "", "", fmt.Errorf("%s is too weak to pin a download", alg)
	}
	n, ok := hashHexLen[alg]
	if !ok {
		return "", "", fmt.Errorf("unknown hash algorithm %q (use sha256)", alg)
	}
	digest = strings.ToLower(digest)
	if len(digest) != n {
		return "", "", fmt.Errorf("a %s digest has %d hex digits, this one %d", alg, n, len(digest))
	}
	if _, err := hex.DecodeString(digest); err != nil {
		return "", "", fmt.Errorf("digest is not hex: %w", err)
	}
	return alg, digest, nil
}

// Lookup returns the first requirement whose Key is NormalizeName(key).
func (f *File) Lookup(key string) (*Requirement, bool) {
	key = NormalizeName(key)
	for i := range f.Requirements {
		if f.Requirements[i].Key == key {
			return &f.Requirements[i], true
		}
	}
	return nil, false
}

// ForEnv returns the requirements whose markers hold in env, in file order.
func (f *File) ForEnv(env Env) ([]Requirement, error) {
	var out []Requirement
	for _, r := range f.Requirements {
		ok, err := r.Applies(env)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", f.Path, r.Line, err)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Applies reports whether r's marker holds in env (true without a marker).
func (r Requirement) Applies(env Env) (bool, error) {
	if r.Marker == "" {
		return true, nil
	}
	m, err := ParseMarker(r.Marker)
	if err != nil {
		return false, err
	}
	return m.Eval(env)
}

// String renders r as a lock entry without hashes, e.g.
// `psycopg[binary]==3.2.3 ; python_version >= "3.8"`.
func (r Requirement) String() string {
	s := r.Name
	if len(r.Extras) > 0 {
		s += "[" + strings.Join(r.Extras, ",") + "]"
	}
	s += "==" + r.Version
	if r.Marker != "" {
		s += " ; " + r.Marker
	}
	return s
}
