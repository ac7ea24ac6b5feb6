package smoke

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/layer"
)

func TestCheckUser(t *testing.T) {
	cases := []struct {
		user     string
		want     int
		ok       bool
		uid, gid int
		reason   string
	}{
		{"10001:10001", 10001, true, 10001, 10001, ""},
		{"10001", 10001, true, 10001, 10001, ""},
		{"", 10001, false, 0, 0, "runs as root"},
		{"0:0", 10001, false, 0, 0, "is root"},
		{"root", 10001, false, 0, 0, "not numeric"},
		{"app:app", 10001, false, 0, 0, "not numeric"},
		{"1000:1000", 10001, false, 1000, 1000, "expected 10001"},
	}
	for _, c := range cases {
		uid, gid, chk := checkUser(c.user, c.want)
		if chk.Passed != c.ok || (c.ok && (uid != c.uid || gid != c.gid)) || !strings.Contains(chk.Reason, c.reason) {
			t.Errorf("checkUser(%q) = %d:%d %+v", c.user, uid, gid, chk)
		}
	}
}

func TestExpect(t *testing.T) {
	out := &Outcome{ExitCode: 0, Stdout: "Version: 3.5.0\n", Stderr: "warning"}
	cases := []struct {
		e  config.Expect
		ok bool
	}{
		{config.Expect{Stdout: "Version: 3.5.0"}, true},
		{config.Expect{Stdout: "Version: 3.5"}, false},
		{config.Expect{StdoutContains: "3.5.0"}, true},
		{config.Expect{StdoutRegexp: `^Version: \d+\.\d+\.\d+$`}, false}, // \n before $ without (?m)
		{config.Expect{StdoutRegexp: `(?m)^Version: \d+\.\d+\.\d+$`}, true},
		{config.Expect{ExitCode: 1}, false},
	}
	for i, c := range cases {
		ok, reason := expect(c.e, out)
		if ok != c.ok {
			t.Errorf("case %d: ok=%v reason=%q", i, ok, reason)
		}
		if !ok && !strings.Contains(reason, "stderr: warning") {
			t.Errorf("case %d: failure reason should carry stderr: %q", i, reason)
		}
	}
	// Expectations on stderr, and their exact reasons.
	out = &Outcome{ExitCode: 3, Stdout: "", Stderr: "Error: no such table\n"}
	for _, c := range []struct {
		e      config.Expect
		reason string
	}{
		{config.Expect{ExitCode: 3, Stderr: "Error: no such table"}, ""},
		{config.Expect{ExitCode: 3, StderrContains: "no such"}, ""},
		{config.Expect{ExitCode: 3, StderrRegexp: `(?m)^Error: .* table$`}, ""},
		{config.Expect{ExitCode: 3, Stderr: "Error"}, `stderr "Error: no such table", expected "Error"`},
		{config.Expect{ExitCode: 3, StderrContains: "column"}, `stderr "Error: no such table" does not contain "column"`},
		{config.Expect{ExitCode: 3, StderrRegexp: `^table`}, `stderr "Error: no such table" does not match "^table"`},
		{config.Expect{ExitCode: 3, StderrRegexp: `(`}, "bad stderrRegexp: error parsing regexp: missing closing ): `(`"},
		{config.Expect{ExitCode: 0, StdoutContains: "x"}, `exit code 3, expected 0; stdout "" does not contain "x"; stderr: Error: no such table`},
	} {
		ok, reason := expect(c.e, out)
		if ok != (c.reason == "") || reason != c.reason {
			t.Errorf("%+v: ok=%v reason=%q, want %q", c.e, ok, reason, c.reason)
		}
	}
}

func TestRuntimeSpecLockedDown(t *testing.T) {
	s := runtimeSpec("/r", Process{Args: []string{"pgcli", "--version"}, UID: 10001, GID: 10001, Cwd: "/home/pgcli"})
	if !s.Root.Readonly || !s.Process.NoNewPrivileges || s.Process.User.UID != 10001 || s.Process.User.GID != 10001 {
		t.Errorf("spec not locked down: %+v %+v", s.Root, s.Process)
	}
	c := s.Process.Capabilities
	if len(c.Bounding)+len(c.Effective)+len(c.Permitted)+len(c.Inheritable)+len(c.Ambient) != 0 {
		t.Errorf("capabilities granted: %+v", c)
	}
	hasNet := false
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == "network" && ns.Path == "" {
			hasNet = true
		}
	}
	if !hasNet {
		t.Error("no private network namespace")
	}
}

func TestEngineArgs(t *testing.T) {
	e := &engineRT{tool: "podman", tag: "harden-smoke.local/image:abc"}
	got := strings.Join(e.engineArgs(Process{Args: []string{"id", "-u"}, UID: 10001, GID: 10001, Cwd: "/"}), " ")
	for _, want := range []string{"--network=none", "--read-only", "--cap-drop=ALL", "--user 10001:10001", "--entrypoint id harden-smoke.local/image:abc -u", "nofile=1024:1024"} {
		if !strings.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "--interactive") {
		t.Errorf("stdin kept open with nothing to feed: %q", got)
	}
	// Stdin needs an open stdin; the environment goes in whole.
	got = strings.Join(e.engineArgs(Process{Args: []string{"cat"}, Env: []string{"PATH=/bin", "A=b c"}, Stdin: "x", UID: 1, GID: 1, Cwd: "/"}), " ")
	if !strings.Contains(got, "--interactive --env PATH=/bin --env A=b c ") || !strings.HasSuffix(got, "--entrypoint cat harden-smoke.local/image:abc") {
		t.Errorf("args %q", got)
	}
}

// rawLayer builds a layer from hand-written tar headers, for inputs the
// deterministic tree refuses to produce.
func rawLayer(t *testing.T, hs ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			_, _ = tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	_ = tw.Close()
	return &b
}

func TestUnpackRefusesSymlinkParent(t *testing.T) {
	outside := t.TempDir()
	b := rawLayer(t,
		&tar.Header{Name: "escape", Typeflag: tar.TypeSymlink, Linkname: outside, Mode: 0o777},
		&tar.Header{Name: "escape/pwned", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
	)
	l, err := tarball.LayerFromReader(b)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := mutate.AppendLayers(empty.Image, l)
	if err := Unpack(img, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "pwned")); err == nil {
		t.Fatal("unpack wrote outside the root")
	}
	// Our own guard, independent of how the flattener orders entries.
	root := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := checkParents(root, "escape/pwned"); err == nil || !strings.Contains(err.Error(), "symlinked directory") {
		t.Errorf("checkParents through a symlink: %v", err)
	}
	if err := checkParents(root, "a/b/c"); err != nil {
		t.Errorf("checkParents on fresh dirs: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "a/b")); err != nil || !fi.IsDir() {
		t.Errorf("parents not created: %v", err)
	}
}

func TestUnpackAndLookPath(t *testing.T) {
	tr := layer.New()
	_ = tr.AddFile("usr/local/bin/pgcli", 0o755, []byte("#!/usr/bin/python3.11\n"))
	_ = tr.AddSymlink("bin", "usr/bin")
	_ = tr.AddFile("usr/bin/id", 0o755, []byte("ELF"))
	_ = tr.Add(layer.Entry{Path: "home/pgcli", Type: tar.TypeDir, Mode: 0o750, UID: os.Getuid(), GID: os.Getgid()})
	_ = tr.Add(layer.Entry{Path: "tmp", Type: tar.TypeDir, Mode: 0o1777})
	_ = tr.Add(layer.Entry{Path: "dev/null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3})
	b, err := layer.Writer{Dir: t.TempDir(), Compression: layer.ParallelGzip}.WriteTree(tr, time.Unix(0, 0), types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := mutate.AppendLayers(empty.Image, b.Layer())
	root := t.TempDir()
	if err := Unpack(img, root); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "tmp"))
	if err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("/tmp mode %v %v", fi.Mode(), err)
	}
	if os.Geteuid() == 0 {
		fi, err := os.Stat(filepath.Join(root, "dev/null"))
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 || fi.Mode().Perm() != 0o666 {
			t.Errorf("/dev/null: %v %v (mknod is subject to the umask)", fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "home/pgcli")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("home mode: %v %v", fi, err)
	}
	// The unpacked tree is what the entrypoint check reads for runc and
	// chroot.
	path := "/usr/local/sbin:/usr/local/bin:/bin"
	u := user{10001, 10001}
	if got, err := lookup(dirView(root), "pgcli", "/", path, u); err != nil || got.Path != "/usr/local/bin/pgcli" {
		t.Errorf("lookup pgcli = %+v %v", got, err)
	}
	if got, err := lookup(dirView(root), "id", "/", path, u); err != nil || got.Path != "/bin/id" || got.Real != "/usr/bin/id" {
		t.Errorf("lookup id through /bin symlink = %+v %v", got, err)
	}
	if _, err := lookup(dirView(root), "nope", "/", path, u); err == nil {
		t.Error("lookup found a missing binary")
	}
}
