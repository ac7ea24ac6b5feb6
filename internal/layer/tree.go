// Package layer holds an in-memory file tree that serialises to a
// deterministic tar stream and OCI layer: entries sorted by path, one fixed
// mtime, normalised modes, numeric owners and no user or group names.
package layer

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entry is one node of a Tree. Path is clean and relative ("usr/bin/pgcli").
type Entry struct {
	Path     string
	Type     byte  // tar.TypeReg, TypeDir, TypeSymlink, TypeLink or TypeChar
	Mode     int64 // permission bits, e.g. 0o755
	UID, GID int
	Data     []byte // regular files only
	Linkname string // symlinks and hard links
	Devmajor int64
	Devminor int64
}

// Tree is a set of entries keyed by path. The zero value is not usable; call New.
type Tree struct {
	entries map[string]*Entry
}

// New returns an empty tree.
func New() *Tree { return &Tree{entries: map[string]*Entry{}} }

// CleanPath turns "/usr/bin/x" or "usr//bin/./x" into "usr/bin/x". It rejects
// empty paths and any path that climbs out of the root with "..".
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", fmt.Errorf("path %q contains '..'", p)
		}
	}
	c := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c == "" {
		return "", fmt.Errorf("path %q names the root", p)
	}
	return c, nil
}

// Add inserts or replaces an entry. Parent directories that are not added
// explicitly are written as root-owned 0755 directories.
func (t *Tree) Add(e Entry) error {
	p, err := CleanPath(e.Path)
	if err != nil {
		return err
	}
	e.Path = p
	switch e.Type {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar:
	default:
		return fmt.Errorf("%s: unsupported entry type %q", p, e.Type)
	}
	if e.Type != tar.TypeReg {
		e.Data = nil
	}
	for parent := path.Dir(p); parent != "."; parent = path.Dir(parent) {
		if pe, ok := t.entries[parent]; ok && pe.Type != tar.TypeDir {
			return fmt.Errorf("%s: parent %s is not a directory", p, parent)
		}
	}
	if old, ok := t.entries[p]; ok && old.Type == tar.TypeDir && e.Type != tar.TypeDir && t.hasChildren(p) {
		return fmt.Errorf("%s: cannot replace a non-empty directory", p)
	}
	t.entries[p] = &e
	return nil
}

func (t *Tree) hasChildren(dir string) bool {
	prefix := dir + "/"
	for k := range t.entries {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// NormalMode maps any permission set to 0755 when an execute bit is set and
// 0644 otherwise, so that host umasks never leak into a layer.
func NormalMode(mode int64) int64 {
	if mode&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// AddFile adds a root-owned regular file with a normalised mode.
func (t *Tree) AddFile(p string, mode int64, data []byte) error {
	return t.Add(Entry{Path: p, Type: tar.TypeReg, Mode: NormalMode(mode), Data: data})
}

// AddDir adds a root-owned 0755 directory.
func (t *Tree) AddDir(p string) error {
	return t.Add(Entry{Path: p, Type: tar.TypeDir, Mode: 0o755})
}

// AddSymlink adds a symlink. The target is stored verbatim; callers that
// accept untrusted targets must check them first.
func (t *Tree) AddSymlink(p, target string) error {
	return t.Add(Entry{Path: p, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target})
}

// Get returns the entry at p, if any.
func (t *Tree) Get(p string) (*Entry, bool) {
	c, err := CleanPath(p)
	if err != nil {
		return nil, false
	}
	e, ok := t.entries[c]
	return e, ok
}

// Len reports the number of explicit entries.
func (t *Tree) Len() int { return len(t.entries) }

// Walk calls fn for every entry, implicit parents included, in the order
// they are written to the tar stream.
func (t *Tree) Walk(fn func(*Entry) error) error {
	for _, e := range t.sorted() {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tree) sorted() []*Entry {
	all := make(map[string]*Entry, len(t.entries))
	for p, e := range t.entries {
		all[p] = e
		for parent := path.Dir(p); parent != "."; parent = path.Dir(parent) {
			if _, ok := all[parent]; ok {
				continue
			}
			if pe, ok := t.entries[parent]; ok {
				all[parent] = pe
			} else {
				all[parent] = &Entry{Path: parent, Type: tar.TypeDir, Mode: 0o755}
			}
		}
	}
	out := make([]*Entry, 0, len(all))
	for _, e := range all {
		out = append(out, e)
	}
	// Sorting on the path string puts every directory before its children.
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// WriteTar writes the tree as a tar stream with every mtime set to mtime.
func (t *Tree) WriteTar(w io.Writer, mtime time.Time) error {
	tw := tar.NewWriter(w)
	mt := mtime.UTC().Truncate(time.Second)
	for _, e := range t.sorted() {
		h := &tar.Header{
			Typeflag: e.Type,
			Name:     e.Path,
			Mode:     e.Mode,
			Uid:      e.UID,
			Gid:      e.GID,
			ModTime:  mt,
			Linkname: e.Linkname,
			Devmajor: e.Devmajor,
			Devminor: e.Devminor,
		}
		if e.Type == tar.TypeDir {
			h.Name += "/"
		}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar header %s: %w", e.Path, err)
		}
		if e.Type == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				return fmt.Errorf("tar data %s: %w", e.Path, err)
			}
		}
	}
	return tw.Close()
}

// Layer serialises the tree and wraps it as a gzip-compressed v1.Layer of
// media type mt. The same tree and mtime always give the same digest.
func (t *Tree) Layer(mtime time.Time, mt types.MediaType) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := t.WriteTar(&buf, mtime); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(mt), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("create layer: %w", err)
	}
	return l, nil
}

// FileMode converts tar permission bits (with setuid, setgid and sticky)
// to an os.FileMode.
func FileMode(m int64) os.FileMode {
	fm := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}
