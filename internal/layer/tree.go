// Package layer holds a file tree that serialises to a deterministic tar
// stream and OCI layer: entries sorted by path, one fixed mtime,
// normalised modes, numeric owners and no user or group names. The tree
// holds metadata; file contents are small byte slices or are streamed from
// their source when the layer is written.
package layer

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Entry is one node of a Tree. Path is clean and relative ("usr/bin/pgcli").
type Entry struct {
	Path     string
	Type     byte  // tar.TypeReg, TypeDir, TypeSymlink, TypeLink or TypeChar
	Mode     int64 // permission bits, e.g. 0o755
	UID, GID int
	Data     []byte // regular files held in memory (small or generated)
	// Open streams a regular file's Size bytes when the tree is written,
	// instead of Data. The reader must fail, not end, when the content
	// is not what was promised (a hash check at EOF).
	Open     func() (io.ReadCloser, error)
	Size     int64
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
		e.Data, e.Open, e.Size = nil, nil, 0
	}
	if e.Open != nil && e.Data != nil {
		return fmt.Errorf("%s: an entry has either Data or Open, not both", p)
	}
	if e.Open == nil {
		e.Size = int64(len(e.Data))
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

// Remove deletes the entry at p (not its children) and returns it.
func (t *Tree) Remove(p string) (*Entry, bool) {
	c, err := CleanPath(p)
	if err != nil {
		return nil, false
	}
	e, ok := t.entries[c]
	delete(t.entries, c)
	return e, ok
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
			h.Size = e.Size
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar header %s: %w", e.Path, err)
		}
		if e.Type == tar.TypeReg {
			if err := writeContent(tw, e); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func writeContent(tw *tar.Writer, e *Entry) error {
	if e.Open == nil {
		if int64(len(e.Data)) != e.Size {
			return fmt.Errorf("%s: holds %d bytes, not its size %d", e.Path, len(e.Data), e.Size)
		}
		if _, err := tw.Write(e.Data); err != nil {
			return fmt.Errorf("tar data %s: %w", e.Path, err)
		}
		return nil
	}
	rc, err := e.Open()
	if err != nil {
		return fmt.Errorf("open %s: %w", e.Path, err)
	}
	defer rc.Close()
	n, err := io.Copy(tw, rc)
	if err != nil {
		return fmt.Errorf("write %s: %w", e.Path, err)
	}
	if n != e.Size {
		return fmt.Errorf("write %s: its source gave %d bytes, not %d", e.Path, n, e.Size)
	}
	return nil
}

// Content reads a regular file's bytes, from memory or its source. It is
// for small files and tests; layers stream.
func (e *Entry) Content() ([]byte, error) {
	if e.Open == nil {
		return e.Data, nil
	}
	rc, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
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
