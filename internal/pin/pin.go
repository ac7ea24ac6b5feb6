// Package pin finds container image references in Kubernetes/Helm YAML and
// Dockerfiles and rewrites them to digest form (repo@sha256:...), touching
// only the bytes of each reference so formatting and comments survive.
package pin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/errs"
)

// File kinds understood by Find, Rewrite and PinAll.
const (
	KindYAML       = "yaml"
	KindDockerfile = "dockerfile"
)

// Ref is one image reference found in a file.
type Ref struct {
	Line   int    // 1-based
	Column int    // 1-based byte column where the reference text starts
	Text   string // the reference exactly as written (without quotes)
	Pinned bool   // carries @sha256:<64 hex>
	Kind   string // "yaml" or "dockerfile"
}

// Change is one rewritten reference.
type Change struct {
	Line     int
	Old, New string
}

// Resolver is how PinAll turns a tag into a digest ("sha256:<64 hex>");
// the CLI passes a registry lookup.
type Resolver func(ctx context.Context, ref name.Reference) (string, error)

const knownNames = "Dockerfile, Containerfile, *.Dockerfile, Dockerfile.*, *.yaml, *.yml"

// KindOf guesses the file kind from its name.
func KindOf(path string) (string, error) {
	base := filepath.Base(path)
	lower := strings.ToLower(base)
	switch {
	case strings.HasSuffix(lower, ".yaml"), strings.HasSuffix(lower, ".yml"):
		return KindYAML, nil
	case strings.HasSuffix(lower, ".dockerignore"):
		// Dockerfile.dockerignore is the ignore file, not a Dockerfile.
	case lower == "dockerfile", lower == "containerfile",
		strings.HasSuffix(lower, ".dockerfile"), strings.HasSuffix(lower, ".containerfile"),
		strings.HasPrefix(lower, "dockerfile."), strings.HasPrefix(lower, "containerfile."):
		return KindDockerfile, nil
	}
	return "", errs.Input(fmt.Errorf("%s: cannot tell the file kind from its name; understood names are %s", path, knownNames))
}

// Find lists the image references in content, in file order. Text that
// does not parse as an image reference (templating, $VARS) is skipped.
func Find(content []byte, kind string) ([]Ref, error) {
	spans, err := find(content, kind)
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, sp := range spans {
		refs = append(refs, sp.Ref)
	}
	return refs, nil
}

// Rewrite replaces every reference whose repository equals repo with its
// repository (as written) followed by @digest, dropping any tag or old
// digest. Only the reference bytes change. The returned content is a new
// slice; changes is empty when nothing matched.
func Rewrite(content []byte, kind string, repo name.Repository, digest string) ([]byte, []Change, error) {
	if err := checkDigest(digest); err != nil {
		return nil, nil, errs.Input(fmt.Errorf("rewrite: %w", err))
	}
	want := repo.Name()
	if repo.RepositoryStr() == "" {
		return nil, nil, errs.Input(errors.New("rewrite: empty repository"))
	}
	spans, err := find(content, kind)
	if err != nil {
		return nil, nil, err
	}
	var edits []edit
	for _, sp := range spans {
		if sp.ref.Context().Name() == want {
			edits = append(edits, edit{sp, withDigest(sp.Text, digest)})
		}
	}
	out, changes := apply(content, edits)
	return out, changes, nil
}

// PinAll rewrites every reference not yet pinned to repo@digest, asking
// resolve once per distinct reference. Already-pinned references are left
// alone, except that "repo:tag@sha256:x" loses its tag (no lookup).
func PinAll(ctx context.Context, content []byte, kind string, resolve Resolver) ([]byte, []Change, error) {
	if resolve == nil {
		return nil, nil, errors.New("pin: no resolver")
	}
	spans, err := find(content, kind)
	if err != nil {
		return nil, nil, err
	}
	resolved := map[string]string{}
	var edits []edit
	for _, sp := range spans {
		dig := ""
		if sp.Pinned {
			dig = sp.ref.Identifier()
		} else if d, ok := resolved[sp.ref.Name()]; ok {
			dig = d
		} else {
			if err := ctx.Err(); err != nil {
				return nil, nil, fmt.Errorf("resolve %s (line %d): %w", sp.Text, sp.Line, err)
			}
			d, err := resolve(ctx, sp.ref)
			if err != nil {
				return nil, nil, fmt.Errorf("resolve %s (line %d): %w", sp.Text, sp.Line, err)
			}
			if err := checkDigest(d); err != nil {
				return nil, nil, fmt.Errorf("resolve %s (line %d): %w", sp.Text, sp.Line, err)
			}
			resolved[sp.ref.Name()] = d
			dig = d
		}
		edits = append(edits, edit{sp, withDigest(sp.Text, dig)})
	}
	out, changes := apply(content, edits)
	return out, changes, nil
}

// span is a Ref plus where its text sits in the content.
type span struct {
	Ref
	start, end int // byte offsets of Text
	ref        name.Reference
}

type edit struct {
	span
	text string
}

func find(content []byte, kind string) ([]span, error) {
	var cands []candidate
	switch kind {
	case KindYAML:
		cands = scanYAML(content)
	case KindDockerfile:
		cands = scanDockerfile(content)
	default:
		return nil, errs.Input(fmt.Errorf("unknown file kind %q: want %q or %q", kind, KindYAML, KindDockerfile))
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].off < cands[j].off })
	starts := lineStarts(content)
	var spans []span
	for _, c := range cands {
		if c.text == "" || strings.Contains(c.text, "$") || (c.plain && yamlNonString(c.text)) {
			continue
		}
		ref, err := name.ParseReference(c.text)
		if err != nil {
			continue
		}
		line := sort.Search(len(starts), func(i int) bool { return starts[i] > c.off })
		spans = append(spans, span{
			Ref: Ref{
				Line:   line,
				Column: c.off - starts[line-1] + 1,
				Text:   c.text,
				Pinned: isPinned(ref),
				Kind:   kind,
			},
			start: c.off,
			end:   c.off + len(c.text),
			ref:   ref,
		})
	}
	return spans, nil
}

// candidate is text that may be an image reference, at byte offset off.
// plain marks an unquoted YAML scalar, which may be null, a bool or a number.
type candidate struct {
	off   int
	text  string
	plain bool
}

func apply(content []byte, edits []edit) ([]byte, []Change) {
	var out bytes.Buffer
	out.Grow(len(content) + 80*len(edits))
	var changes []Change
	last := 0
	for _, e := range edits {
		if e.text == e.Text {
			continue
		}
		out.Write(content[last:e.start])
		out.WriteString(e.text)
		last = e.end
		changes = append(changes, Change{Line: e.Line, Old: e.Text, New: e.text})
	}
	out.Write(content[last:])
	return out.Bytes(), changes
}

// withDigest strips the tag and digest from text and appends digest,
// keeping the repository exactly as written.
func withDigest(text, digest string) string {
	base := text
	if i := strings.IndexByte(base, '@'); i >= 0 {
		base = base[:i]
	}
	if c := strings.LastIndexByte(base, ':'); c > strings.LastIndexByte(base, '/') {
		base = base[:c]
	}
	return base + "@" + digest
}

func isPinned(ref name.Reference) bool {
	d, ok := ref.(name.Digest)
	return ok && checkDigest(d.DigestStr()) == nil
}

func checkDigest(d string) error {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 || strings.IndexFunc(hex, func(r rune) bool {
		return (r < '0' || r > '9') && (r < 'a' || r > 'f')
	}) >= 0 {
		return fmt.Errorf("digest %q is not sha256: followed by 64 lowercase hex digits", d)
	}
	return nil
}

// lineStarts returns the byte offset of every line start.
func lineStarts(content []byte) []int {
	starts := []int{0}
	for i, b := range content {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// line is one physical line without its "\n" or "\r\n".
type line struct {
	start int
	text  string
}

func splitLines(content []byte) []line {
	var lines []line
	for off := 0; off < len(content); {
		end := bytes.IndexByte(content[off:], '\n')
		next := off + end + 1
		if end < 0 {
			end = len(content) - off
			next = len(content)
		}
		text := string(content[off : off+end])
		text = strings.TrimSuffix(text, "\r")
		lines = append(lines, line{start: off, text: text})
		off = next
	}
	return lines
}

func isWS(c byte) bool { return c == ' ' || c == '\t' }

func skipWS(s string, i int) int {
	for i < len(s) && isWS(s[i]) {
		i++
	}
	return i
}

func trimRightWS(s string) string { return strings.TrimRight(s, " \t") }
