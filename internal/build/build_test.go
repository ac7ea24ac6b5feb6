package build

import (
	"archive/tar"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/layer"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheels"
)

func baseFS(t *testing.T, passwd string) *layer.Tree {
	t.Helper()
	fs := layer.New()
	if passwd != "" {
		if err := fs.Add(layer.Entry{Path: "etc/passwd", Type: tar.TypeReg, Mode: 0o644, Data: []byte(passwd)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = fs.Add(layer.Entry{Path: "etc/group", Type: tar.TypeReg, Mode: 0o644, Data: []byte("root:x:0:\nnogroup:x:65534:")})
	_ = fs.AddFile("usr/sbin/nologin", 0o755, []byte("ELF"))
	return fs
}

var pgcliUser = config.User{Name: "pgcli", UID: 10001, GID: 10001, Home: "/home/pgcli"}

func TestUserLayer(t *testing.T) {
	tr, home, err := userLayer(baseFS(t, "root:x:0:0:root:/root:/bin/bash\n"), pgcliUser)
	if err != nil {
		t.Fatal(err)
	}
	if home != "/home/pgcli" {
		t.Errorf("home %q", home)
	}
	p, _ := tr.Get("etc/passwd")
	if want := "root:x:0:0:root:/root:/bin/bash\npgcli:x:10001:10001:pgcli:/home/pgcli:/usr/sbin/nologin\n"; string(p.Data) != want {
		t.Errorf("passwd:\n%s", p.Data)
	}
	g, _ := tr.Get("etc/group")
	if want := "root:x:0:\nnogroup:x:65534:\npgcli:x:10001:\n"; string(g.Data) != want {
		t.Errorf("group:\n%s", g.Data)
	}
	h, _ := tr.Get("home/pgcli")
	if h.Type != tar.TypeDir || h.UID != 10001 || h.GID != 10001 || h.Mode != 0o750 {
		t.Errorf("home entry %+v", h)
	}
}

func TestUserLayerConflicts(t *testing.T) {
	for _, passwd := range []string{
		"root:x:0:0::/root:/bin/sh\nother:x:10001:10001::/:/bin/sh\n",
		"root:x:0:0::/root:/bin/sh\npgcli:x:999:999::/:/bin/sh\n",
	} {
		if _, _, err := userLayer(baseFS(t, passwd), pgcliUser); err == nil || !strings.Contains(err.Error(), "already has") {
			t.Errorf("conflict not refused for %q: %v", passwd, err)
		}
	}
	// The identical entry already present is fine (rebuilding on top of a
	// harden-built base).
	same := "root:x:0:0::/root:/bin/sh\npgcli:x:10001:10001:pgcli:/home/pgcli:/usr/sbin/nologin\n"
	if _, _, err := userLayer(baseFS(t, same), pgcliUser); err != nil {
		t.Errorf("identical entry refused: %v", err)
	}
	// No passwd at all: one is created with root.
	tr, _, err := userLayer(baseFS(t, ""), pgcliUser)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := tr.Get("etc/passwd"); !strings.HasPrefix(string(p.Data), "root:x:0:0:") {
		t.Errorf("created passwd: %s", p.Data)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/usr/bin", "LANG=C", "PYTHON_VERSION=3.12.8"}, map[string]string{"LANG": "C.UTF-8", "B": "2", "A": "1"}, "/home/pgcli")
	want := "PATH=/usr/bin LANG=C.UTF-8 PYTHON_VERSION=3.12.8 A=1 B=2 HOME=/home/pgcli"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %v\nwant %s", got, want)
	}
	got = mergeEnv(nil, map[string]string{"HOME": "/data"}, "/home/pgcli")
	if strings.Join(got, " ") != "HOME=/data" {
		t.Errorf("configured HOME must win: %v", got)
	}
}

func TestShadowBaseDists(t *testing.T) {
	site := "/usr/local/lib/python3.12/site-packages"
	fs := layer.New()
	rec := "pip/__init__.py,sha256=x,1\npip/old.py,sha256=y,1\npip-24.0.dist-info/RECORD,,\n../../../bin/pip,sha256=z,1\n"
	_ = fs.AddFile(site+"/pip/__init__.py", 0o644, []byte("x"))
	_ = fs.AddFile(site+"/pip/old.py", 0o644, []byte("y"))
	_ = fs.Add(layer.Entry{Path: site + "/pip-24.0.dist-info/RECORD", Type: tar.TypeReg, Mode: 0o644, Data: []byte(rec)})
	_ = fs.AddFile("/usr/local/bin/pip", 0o755, []byte("z"))
	_ = fs.Add(layer.Entry{Path: site + "/other-1.0.dist-info/RECORD", Type: tar.TypeReg, Mode: 0o644, Data: []byte("other/x.py,,\n")})
	_ = fs.AddFile(site+"/other/x.py", 0o644, nil)

	out := layer.New()
	_ = out.AddFile(site+"/pip/__init__.py", 0o644, []byte("new"))
	picks := []wheels.Pick{{Req: lock.Requirement{Name: "pip"}}}
	s := wheel.Scheme{Purelib: site, Platlib: site}
	if err := shadowBaseDists(fs, out, s, picks); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{site + "/pip/.wh.old.py", site + "/pip-24.0.dist-info/.wh.RECORD", "/usr/local/bin/.wh.pip"} {
		if _, ok := out.Get(p); !ok {
			t.Errorf("missing whiteout %s", p)
		}
	}
	if _, ok := out.Get(site + "/pip/.wh.__init__.py"); ok {
		t.Error("whiteout for a file the new wheel provides")
	}
	if _, ok := out.Get(site + "/other/.wh.x.py"); ok {
		t.Error("an unlocked base distribution was removed")
	}
}

func TestRelTo(t *testing.T) {
	for _, c := range [][3]string{
		{"/src/image", "/src/image/requirements.lock", "requirements.lock"},
		{"/src/image", "/src/image/locks/a.lock", "locks/a.lock"},
		{"/src/image", "/elsewhere/a.lock", "/elsewhere/a.lock"},
		{"image", "image/requirements.lock", "requirements.lock"},
	} {
		if got := relTo(c[0], c[1]); got != c[2] {
			t.Errorf("relTo(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
