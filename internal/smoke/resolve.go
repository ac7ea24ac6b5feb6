package smoke

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/harden-dev/harden/internal/layer"
)

// DefaultPath is the PATH a runtime uses when the image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// node is what path resolution needs to know of one file of the image.
type node struct {
	mode     fs.FileMode
	uid, gid int
	link     string // symlink target
}

// view answers lstat for absolute paths inside an image's filesystem.
type view interface {
	lstat(p string) (node, error) // fs.ErrNotExist when absent
}

// dirView is an unpacked root filesystem on disk.
type dirView string

func (d dirView) lstat(p string) (node, error) {
	full := filepath.Join(string(d), filepath.FromSlash(p))
	fi, err := os.Lstat(full)
	if err != nil {
		return node{}, err
	}
	n := node{mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		n.uid, n.gid = int(st.Uid), int(st.Gid)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if n.link, err = os.Readlink(full); err != nil {
			return node{}, err
		}
	}
	return n, nil
}

// tarView is the metadata of an image's merged filesystem, read from its
// layers once without file contents, for runtimes that unpack nothing
// here (docker, podman).
type tarView map[string]node

func (t tarView) lstat(p string) (node, error) {
	if p == "/" {
		return node{mode: fs.ModeDir | 0o755}, nil
	}
	n, ok := t[p]
	if !ok {
		return node{}, fs.ErrNotExist
	}
	return n, nil
}

// readView indexes img's merged filesystem (whiteouts applied).
func readView(img v1.Image) (tarView, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tv := tarView{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tv, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read image filesystem: %w", err)
		}
		rel, err := layer.CleanPath(h.Name)
		if err != nil {
			continue
		}
		p := "/" + rel
		n := node{mode: layer.FileMode(h.Mode).Perm(), uid: h.Uid, gid: h.Gid}
		switch h.Typeflag {
		case tar.TypeDir:
			n.mode |= fs.ModeDir
		case tar.TypeSymlink:
			n.mode, n.link = fs.ModeSymlink|0o777, h.Linkname
		case tar.TypeLink:
			target, err := layer.CleanPath(h.Linkname)
			if err != nil {
				continue
			}
			if n, ok := tv["/"+target]; ok {
				tv[p] = n
			}
			continue
		case tar.TypeReg, tar.TypeRegA:
		default:
			n.mode |= fs.ModeIrregular
		}
		tv[p] = n
		// Parents missing from the archive exist as plain directories.
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := tv[d]; ok {
				break
			}
			tv[d] = node{mode: fs.ModeDir | 0o755}
		}
	}
}

// user is who runs the process: permissions are checked for its uid and
// primary gid (runtimes here add no supplementary groups).
type user struct{ uid, gid int }

// may reports whether u has any of the permission bits want (r=4, w=2,
// x=1) on n, as the kernel decides: the owner's bits for the owner, the
// group's for the group, the others' for everyone else; root needs one
// x bit for files and none for directories.
func (u user) may(n node, want fs.FileMode) bool {
	m := n.mode.Perm()
	switch {
	case u.uid == 0:
		return n.mode.IsDir() || want != 1 || m&0o111 != 0
	case u.uid == n.uid:
		return m&(want<<6) != 0
	case u.gid == n.gid:
		return m&(want<<3) != 0
	}
	return m&want != 0
}

// resolveError says why a path does not lead to something executable.
type resolveError struct {
	path   string // as asked
	reason string
}

func (e *resolveError) Error() string { return e.path + ": " + e.reason }

// maxSymlinks is the kernel's limit on symlinks followed in one lookup.
const maxSymlinks = 40

// walk follows p inside v as the kernel does: symlinks are followed
// (absolute ones from the image's root), each directory on the way must
// be searchable by u. It returns the final path and its node.
func walk(v view, p string, u user) (string, node, error) {
	fail := func(format string, a ...any) (string, node, error) {
		return "", node{}, &resolveError{path: p, reason: fmt.Sprintf(format, a...)}
	}
	// seg is one path component; from names the symlink whose target
	// it came from ("" for p itself), for messages.
	type seg struct{ name, from string }
	split := func(s, from string) []seg {
		var out []seg
		for _, n := range splitPath(s) {
			out = append(out, seg{n, from})
		}
		return out
	}
	cur := "/"
	rest := split(p, "")
	for hops := 0; len(rest) > 0; {
		sg := rest[0]
		rest = rest[1:]
		if sg.name == "." {
			continue
		}
		if sg.name == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, sg.name)
		n, err := v.lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist) && sg.from != "":
			return fail("dangling symlink %s (%s does not exist)", sg.from, next)
		case errors.Is(err, fs.ErrNotExist) && next == path.Clean("/"+p):
			return fail("no such file")
		case errors.Is(err, fs.ErrNotExist):
			return fail("no such file (%s does not exist)", next)
		case err != nil:
			return fail("%v", err)
		}
		if n.mode&fs.ModeSymlink != 0 {
			if hops++; hops > maxSymlinks {
				return fail("too many levels of symlinks")
			}
			t := n.link
			if !strings.HasPrefix(t, "/") {
				t = path.Join(cur, t)
			}
			rest = append(split(t, next+" -> "+n.link), rest...)
			cur = "/"
			continue
		}
		if len(rest) > 0 {
			if !n.mode.IsDir() {
				return fail("%s is not a directory", next)
			}
			if !u.may(n, 1) {
				return fail("directory %s is not searchable by uid %d (mode %04o, owner %d:%d)", next, u.uid, n.mode.Perm(), n.uid, n.gid)
			}
		}
		cur = next
	}
	n, err := v.lstat(cur)
	if err != nil {
		return fail("%v", err)
	}
	return cur, n, nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// executable checks that p resolves to a regular file u may execute and
// returns its real path.
func executable(v view, p string, u user) (string, error) {
	real, n, err := walk(v, p, u)
	if err != nil {
		return "", err
	}
	target := ""
	if real != path.Clean(p) {
		target = " (" + real + ")"
	}
	switch {
	case n.mode.IsDir():
		return "", &resolveError{path: p, reason: "is a directory" + target}
	case !n.mode.IsRegular():
		return "", &resolveError{path: p, reason: "is not a regular file" + target}
	case !u.may(n, 1):
		return "", &resolveError{path: p, reason: fmt.Sprintf("is not executable by uid %d%s (mode %04o, owner %d:%d)", u.uid, target, n.mode.Perm(), n.uid, n.gid)}
	}
	return real, nil
}

// Resolved is where an argv[0] leads in the image.
type Resolved struct {
	Path string // what the runtime executes: argv[0] itself, or the PATH entry
	Real string // Path with every symlink followed
}

// lookup resolves argv0 as a runtime does before exec: with a slash it is
// a path (relative to cwd); without, the first executable match on
// pathEnv (empty entries mean cwd). The error names every place tried.
func lookup(v view, argv0, cwd, pathEnv string, u user) (Resolved, error) {
	if argv0 == "" {
		return Resolved{}, errors.New("the entrypoint's program is empty")
	}
	abs := func(p string) string {
		if path.IsAbs(p) {
			return path.Clean(p)
		}
		return path.Join("/", cwd, p)
	}
	if strings.Contains(argv0, "/") {
		real, err := executable(v, abs(argv0), u)
		if err != nil {
			return Resolved{}, fmt.Errorf("%q cannot be executed: %w", argv0, err)
		}
		return Resolved{Path: argv0, Real: real}, nil
	}
	var tried []string
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		cand := abs(path.Join(dir, argv0))
		real, err := executable(v, cand, u)
		if err == nil {
			return Resolved{Path: cand, Real: real}, nil
		}
		tried = append(tried, err.Error())
	}
	return Resolved{}, fmt.Errorf("%q is not an executable file on PATH=%s for uid %d: %s", argv0, pathEnv, u.uid, strings.Join(tried, "; "))
}

// pathOf is the PATH of env, or DefaultPath when env sets none.
func pathOf(env []string) string {
	p, ok := "", false
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, "PATH="); found {
			p, ok = v, true
		}
	}
	if !ok {
		return DefaultPath
	}
	return p
}
