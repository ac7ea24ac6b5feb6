package build

import (
	"archive/tar"
	"fmt"
	"strconv"
	"strings"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/layer"
)

// userLayer returns a layer that adds the runtime user and group to the
// base's /etc/passwd and /etc/group and creates its home directory, owned
// by the user. It returns the home directory.
func userLayer(fs *layer.Tree, u config.User) (*layer.Tree, string, error) {
	t := layer.New()
	home := u.Home
	shell := "/usr/sbin/nologin"
	if _, _, err := fs.Resolve(shell); err != nil {
		shell = "/bin/false"
	}
	passwd, pmode, err := readEtc(fs, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
	if err != nil {
		return nil, "", err
	}
	group, gmode, err := readEtc(fs, "etc/group", "root:x:0:\n")
	if err != nil {
		return nil, "", err
	}
	pline := fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", u.Name, u.UID, u.GID, u.Name, home, shell)
	if passwd, err = addEntry(passwd, "/etc/passwd", u.Name, u.UID, 2, pline); err != nil {
		return nil, "", err
	}
	gline := fmt.Sprintf("%s:x:%d:", u.Name, u.GID)
	if group, err = addEntry(group, "/etc/group", u.Name, u.GID, 2, gline); err != nil {
		return nil, "", err
	}
	for _, f := range []struct {
		p    string
		mode int64
		data string
	}{{"etc/passwd", pmode, passwd}, {"etc/group", gmode, group}} {
		if err := t.Add(layer.Entry{Path: f.p, Type: tar.TypeReg, Mode: f.mode, Data: []byte(f.data)}); err != nil {
			return nil, "", err
		}
	}
	if err := t.Add(layer.Entry{Path: home, Type: tar.TypeDir, Mode: 0o750, UID: u.UID, GID: u.GID}); err != nil {
		return nil, "", err
	}
	return t, home, nil
}

func readEtc(fs *layer.Tree, p, fallback string) (string, int64, error) {
	e, _, err := fs.Resolve(p)
	if err != nil {
		return fallback, 0o644, nil
	}
	if e.Type != tar.TypeReg || e.Data == nil {
		return "", 0, fmt.Errorf("/%s in the base image is not a regular file", p)
	}
	s := string(e.Data)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s, e.Mode, nil
}

// addEntry appends line to an /etc/passwd-style file unless the name or id
// is taken. An identical existing entry is accepted as is.
func addEntry(file, path, name string, id, idField int, line string) (string, error) {
	for _, l := range strings.Split(file, "\n") {
		f := strings.Split(l, ":")
		if len(f) <= idField {
			continue
		}
		if l == line {
			return file, nil
		}
		n, _ := strconv.Atoi(f[idField])
		if f[0] == name || n == id {
			return "", fmt.Errorf("base image %s already has %q; choose another user name or id in harden.yaml (user:)", path, l)
		}
	}
	return file + line + "\n", nil
}
