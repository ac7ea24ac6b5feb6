package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// maxKept bounds a file whose content Flatten keeps.
const maxKept = 256 << 20

// Flatten reads the merged filesystem of img (whiteouts applied) into a
// tree. Every entry keeps its type, mode, owner and link target; file
// contents are kept only where keepData(path) is true, so a large base
// costs little memory.
func Flatten(img v1.Image, keepData func(p string) bool) (*Tree, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	t := New()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read image filesystem: %w", err)
		}
		p, err := CleanPath(h.Name)
		if err != nil {
			continue // "." and the like carry nothing we need
		}
		e := &Entry{Path: p, Type: h.Typeflag, Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid,
			Linkname: h.Linkname, Devmajor: h.Devmajor, Devminor: h.Devminor}
		if e.Type == tar.TypeRegA {
			e.Type = tar.TypeReg
		}
		if e.Type == tar.TypeReg {
			e.Size = h.Size
			if keepData != nil && keepData(p) {
				if h.Size > maxKept {
					return nil, fmt.Errorf("/%s in the image is %d MiB; harden reads at most %d MiB of a file it inspects", p, h.Size>>20, maxKept>>20)
				}
				if e.Data, err = io.ReadAll(tr); err != nil {
					return nil, fmt.Errorf("read %s from image: %w", p, err)
				}
			}
		}
		t.entries[p] = e
	}
}

// Resolve follows symlinks in p (in every component, as the kernel would
// inside a chroot at the tree's root) and returns the final entry and its
// path. It fails on loops and on paths that do not exist.
func (t *Tree) Resolve(p string) (*Entry, string, error) {
	const maxHops = 40
	hops := 0
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := ""
	for len(rest) > 0 {
		seg := rest[0]
		rest = rest[1:]
		switch seg {
		case "", ".":
			continue
		case "..":
			cur = strings.TrimPrefix(path.Dir("/"+cur), "/")
			continue
		}
		next := path.Join(cur, seg)
		e, ok := t.entries[next]
		if !ok {
			if !t.hasChildren(next) {
				return nil, "", fmt.Errorf("/%s: no such file in image", next)
			}
			e = &Entry{Path: next, Type: tar.TypeDir, Mode: 0o755} // implicit parent
		}
		if e.Type == tar.TypeSymlink {
			if hops++; hops > maxHops {
				return nil, "", fmt.Errorf("/%s: too many levels of symbolic links", p)
			}
			target := e.Linkname
			if !strings.HasPrefix(target, "/") {
				target = path.Join("/"+cur, target)
			}
			rest = append(strings.Split(strings.Trim(path.Clean(target), "/"), "/"), rest...)
			cur = ""
			continue
		}
		if len(rest) > 0 && e.Type != tar.TypeDir {
			return nil, "", fmt.Errorf("/%s: not a directory", next)
		}
		cur = next
	}
	if cur == "" {
		return nil, "", fmt.Errorf("%s resolves to the root directory", p)
	}
	if e, ok := t.entries[cur]; ok {
		return e, "/" + cur, nil
	}
	return &Entry{Path: cur, Type: tar.TypeDir, Mode: 0o755}, "/" + cur, nil
}

// Glob returns the paths of entries matching pattern (path.Match syntax,
// no leading slash), sorted.
func (t *Tree) Glob(pattern string) []string {
	var out []string
	for _, e := range t.sorted() {
		if ok, _ := path.Match(strings.TrimPrefix(pattern, "/"), e.Path); ok {
			out = append(out, "/"+e.Path)
		}
	}
	return out
}
