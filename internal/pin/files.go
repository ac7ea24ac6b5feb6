package pin

import (
	"context"
	"fmt"
	"os"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
)

// Finding is one reference not pinned by digest.
type Finding struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Image  string `json:"image"`
	Fix    string `json:"fix"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s is not pinned by digest; %s", f.File, f.Line, f.Column, f.Image, f.Fix)
}

// Lint reports every image reference in paths that is not pinned by a
// sha256 digest.
func Lint(paths []string) ([]Finding, error) {
	var out []Finding
	for _, p := range paths {
		kind, content, err := read(p)
		if err != nil {
			return nil, err
		}
		refs, err := Find(content, kind)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, r := range refs {
			if !r.Pinned {
				out = append(out, Finding{File: p, Line: r.Line, Column: r.Column, Image: r.Text,
					Fix: "run harden pin " + p + " to resolve it to repo@sha256:…"})
			}
		}
	}
	return out, nil
}

// FileChanges are the references rewritten in one file.
type FileChanges struct {
	File    string   `json:"file"`
	Changes []Change `json:"changes"`
}

// PinFiles pins every reference in paths, resolving tags with resolve.
// Every file is resolved before any is written, so a failed lookup
// leaves all of them untouched.
func PinFiles(ctx context.Context, paths []string, resolve Resolver) ([]FileChanges, error) {
	type pending struct {
		path    string
		content []byte
	}
	var writes []pending
	var out []FileChanges
	for _, p := range paths {
		kind, content, err := read(p)
		if err != nil {
			return nil, err
		}
		pinned, changes, err := PinAll(ctx, content, kind, resolve)
		if err != nil {
			return nil, fmt.Errorf("%s: %w; no file was changed", p, err)
		}
		out = append(out, FileChanges{File: p, Changes: changes})
		if len(changes) > 0 {
			writes = append(writes, pending{p, pinned})
		}
	}
	for _, w := range writes {
		if err := fsutil.ReplaceFile(w.path, w.content); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func read(path string) (string, []byte, error) {
	kind, err := KindOf(path)
	if err != nil {
		return "", nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, errs.Input(fmt.Errorf("read %s: %w", path, err))
	}
	return kind, b, nil
}
