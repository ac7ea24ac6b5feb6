package smoke

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fsEntry is one file of the test root filesystem.
type fsEntry struct {
	path     string
	typ      byte
	mode     int64
	uid, gid int
	link     string
}

// testTree is a small image filesystem with every case the lookup must
// get right. Parents come before children.
var testTree = []fsEntry{
	{"usr", tar.TypeDir, 0o755, 0, 0, ""},
	{"usr/bin", tar.TypeDir, 0o755, 0, 0, ""},
	{"usr/bin/id", tar.TypeReg, 0o755, 0, 0, ""},
	{"bin", tar.TypeSymlink, 0o777, 0, 0, "usr/bin"},
	{"usr/local", tar.TypeDir, 0o755, 0, 0, ""},
	{"usr/local/bin", tar.TypeDir, 0o755, 0, 0, ""},
	{"usr/local/bin/app", tar.TypeReg, 0o755, 0, 0, ""},
	{"usr/local/lib", tar.TypeDir, 0o755, 0, 0, ""},
	{"usr/local/lib/app", tar.TypeDir, 0o755, 0, 0, ""},
	{"usr/local/lib/app/run", tar.TypeReg, 0o755, 0, 0, ""},
	{"usr/local/bin/rel", tar.TypeSymlink, 0o777, 0, 0, "../lib/app/run"},
	{"opt", tar.TypeDir, 0o755, 0, 0, ""},
	{"opt/tool", tar.TypeDir, 0o755, 0, 0, ""},
	{"opt/tool/tool", tar.TypeReg, 0o755, 0, 0, ""},
	{"usr/local/bin/abs", tar.TypeSymlink, 0o777, 0, 0, "/opt/tool/tool"},
	// A target that exists on any host but not in the image.
	{"usr/local/bin/hostonly", tar.TypeSymlink, 0o777, 0, 0, "/bin/sh"},
	{"usr/local/bin/dangling", tar.TypeSymlink, 0o777, 0, 0, "missing"},
	{"usr/local/bin/loop", tar.TypeSymlink, 0o777, 0, 0, "loop"},
	{"usr/local/bin/data", tar.TypeReg, 0o644, 0, 0, ""},
	{"usr/local/bin/adir", tar.TypeDir, 0o755, 0, 0, ""},
	{"usr/local/bin/mine", tar.TypeReg, 0o700, 10001, 10001, ""},
	{"usr/local/bin/group", tar.TypeReg, 0o750, 0, 10001, ""},
	{"usr/local/bin/others", tar.TypeReg, 0o754, 0, 0, ""},
	// Other bits allow, but the owner's (which apply) do not.
	{"usr/local/bin/ownerdeny", tar.TypeReg, 0o657, 10001, 0, ""},
	{"first", tar.TypeDir, 0o755, 0, 0, ""},
	{"first/dup", tar.TypeReg, 0o644, 0, 0, ""},
	{"second", tar.TypeDir, 0o755, 0, 0, ""},
	{"second/dup", tar.TypeReg, 0o755, 0, 0, ""},
	{"secret", tar.TypeDir, 0o700, 0, 0, ""},
	{"secret/tool", tar.TypeReg, 0o755, 0, 0, ""},
	{"opt/file", tar.TypeReg, 0o755, 0, 0, ""},
}

// writeDir materializes testTree in a fresh directory. Owners need root;
// without it, owned reports false and owner-dependent cases are skipped.
func writeDir(t *testing.T) (root string, owned bool) {
	t.Helper()
	root = t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	owned = os.Geteuid() == 0
	for _, e := range testTree {
		p := filepath.Join(root, filepath.FromSlash(e.path))
		var err error
		switch e.typ {
		case tar.TypeDir:
			err = os.Mkdir(p, 0o700)
		case tar.TypeReg:
			err = os.WriteFile(p, []byte("#!/bin/sh\n"), 0o600)
		case tar.TypeSymlink:
			err = os.Symlink(e.link, p)
		}
		if err != nil {
			t.Fatal(err)
		}
		if owned {
			if err := os.Lchown(p, e.uid, e.gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Modes last, so that closed directories could be filled.
	for i := len(testTree) - 1; i >= 0; i-- {
		if e := testTree[i]; e.typ != tar.TypeSymlink {
			if err := os.Chmod(filepath.Join(root, filepath.FromSlash(e.path)), os.FileMode(e.mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root, owned
}

// imageView reads testTree back from an image layer, as harden test does
// for docker and podman. The layer leaves out parents and uses a hard
// link, which the index must handle.
func imageView(t *testing.T) tarView {
	t.Helper()
	var hs []*tar.Header
	for _, e := range testTree {
		if e.path == "usr" || e.path == "usr/local" {
			continue // implied by their children
		}
		hs = append(hs, &tar.Header{Name: e.path, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, Linkname: e.link})
	}
	hs = append(hs, &tar.Header{Name: "usr/local/bin/hard", Typeflag: tar.TypeLink, Linkname: "usr/local/bin/app"})
	l, err := tarball.LayerFromReader(rawLayer(t, hs...))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	v, err := readView(img)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLookup(t *testing.T) {
	const pathEnv = "/usr/local/bin:/bin"
	app := user{10001, 10001}
	if os.Getuid() == app.uid {
		app = user{10002, 10002}
	}
	cases := []struct {
		name, argv0, cwd, path string
		u                      user
		owners                 bool // depends on file owners
		want, real             string
		err                    []string // substrings of the error
	}{
		{name: "on PATH", argv0: "app", want: "/usr/local/bin/app", real: "/usr/local/bin/app"},
		{name: "PATH through a symlinked directory", argv0: "id", want: "/bin/id", real: "/usr/bin/id"},
		{name: "relative symlink", argv0: "rel", want: "/usr/local/bin/rel", real: "/usr/local/lib/app/run"},
		{name: "absolute symlink resolved in the image", argv0: "abs", want: "/usr/local/bin/abs", real: "/opt/tool/tool"},
		{name: "absolute path", argv0: "/usr/local/bin/abs", want: "/usr/local/bin/abs", real: "/opt/tool/tool"},
		{name: "relative path from the working directory", argv0: "./bin/rel", cwd: "/usr/local", want: "./bin/rel", real: "/usr/local/lib/app/run"},
		{name: "first executable match on PATH wins", argv0: "dup", path: "/first:/second", want: "/second/dup", real: "/second/dup"},
		{name: "owner may execute", argv0: "mine", owners: true, want: "/usr/local/bin/mine", real: "/usr/local/bin/mine"},
		{name: "group may execute", argv0: "group", owners: true, want: "/usr/local/bin/group", real: "/usr/local/bin/group"},
		{name: "missing", argv0: "nope",
			err: []string{`"nope" is not an executable file on PATH=/usr/local/bin:/bin for uid 10001`, "/usr/local/bin/nope: no such file; /bin/nope: no such file (/usr/bin/nope does not exist)"}},
		{name: "dangling symlink", argv0: "/usr/local/bin/dangling",
			err: []string{`"/usr/local/bin/dangling" cannot be executed: /usr/local/bin/dangling: dangling symlink /usr/local/bin/dangling -> missing (/usr/local/bin/missing does not exist)`}},
		{name: "absolute symlink to a host file", argv0: "/usr/local/bin/hostonly",
			err: []string{"dangling symlink /usr/local/bin/hostonly -> /bin/sh (/usr/bin/sh does not exist)"}},
		{name: "symlink loop", argv0: "/usr/local/bin/loop", err: []string{"too many levels of symlinks"}},
		{name: "not executable", argv0: "data", err: []string{"/usr/local/bin/data: is not executable by uid 10001 (mode 0644, owner 0:0)"}},
		{name: "directory", argv0: "/usr/local/bin/adir", err: []string{"/usr/local/bin/adir: is a directory"}},
		{name: "others may only read", argv0: "others", owners: true, err: []string{"/usr/local/bin/others: is not executable by uid 10001 (mode 0754, owner 0:0)"}},
		{name: "owner bits apply to the owner", argv0: "ownerdeny", owners: true, err: []string{"ownerdeny: is not executable by uid 10001 (mode 0657, owner 10001:0)"}},
		{name: "directory not searchable", argv0: "/secret/tool", owners: true, err: []string{"directory /secret is not searchable by uid 10001 (mode 0700, owner 0:0)"}},
		{name: "root may search it", argv0: "/secret/tool", u: user{0, 0}, want: "/secret/tool", real: "/secret/tool"},
		{name: "file as a directory", argv0: "/opt/file/x", err: []string{"/opt/file is not a directory"}},
		{name: "empty program", argv0: "", err: []string{"the entrypoint's program is empty"}},
	}
	root, owned := writeDir(t)
	views := map[string]view{"rootfs": dirView(root), "image": imageView(t)}
	for _, vn := range []string{"rootfs", "image"} {
		for _, c := range cases {
			t.Run(vn+"/"+c.name, func(t *testing.T) {
				if c.owners && vn == "rootfs" && !owned {
					t.Skip("skipping: owners in the rootfs need root")
				}
				u := c.u
				if u == (user{}) && c.name != "root may search it" {
					u = app
				}
				p := c.path
				if p == "" {
					p = pathEnv
				}
				cwd := c.cwd
				if cwd == "" {
					cwd = "/"
				}
				r, err := lookup(views[vn], c.argv0, cwd, p, u)
				if c.err != nil {
					if err == nil {
						t.Fatalf("resolved to %+v", r)
					}
					for _, s := range c.err {
						s = strings.ReplaceAll(s, "10001", strconv.Itoa(app.uid))
						if !strings.Contains(err.Error(), s) {
							t.Errorf("error lacks %q:\n%v", s, err)
						}
					}
					return
				}
				if err != nil || r.Path != c.want || r.Real != c.real {
					t.Errorf("lookup(%q) = %+v, %v; want %s -> %s", c.argv0, r, err, c.want, c.real)
				}
			})
		}
	}
	// The image index follows hard links to their target's metadata.
	if r, err := lookup(views["image"], "hard", "/", pathEnv, app); err != nil || r.Real != "/usr/local/bin/hard" {
		t.Errorf("hard link: %+v %v", r, err)
	}
}

func TestPathOf(t *testing.T) {
	if got := pathOf([]string{"LANG=C", "PATH=/a:/b"}); got != "/a:/b" {
		t.Errorf("pathOf = %q", got)
	}
	if got := pathOf([]string{"PATH=/a", "PATH=/c"}); got != "/c" {
		t.Errorf("the last PATH wins: %q", got)
	}
	if got := pathOf(nil); got != DefaultPath {
		t.Errorf("no PATH: %q", got)
	}
	if got := pathOf([]string{"PATH="}); got != "" {
		t.Errorf("an empty PATH is kept: %q", got)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "LANG=C", "HOME=/home/app"}, map[string]string{"LANG": "C.UTF-8", "B": "2", "A": "1"})
	if want := "PATH=/bin LANG=C.UTF-8 HOME=/home/app A=1 B=2"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
}
