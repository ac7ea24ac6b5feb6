// Package wheeltest writes small, valid wheels for tests: a correct
// METADATA, WHEEL and RECORD around the members given, so that only a
// deliberate defect in a member makes a wheel bad.
package wheeltest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Member is one file of a wheel. A Symlink member stores Data as the
// link target, with the symlink mode in the zip's external attributes.
type Member struct {
	Name, Data string
	Symlink    bool
}

// Write builds filename in dir for project dist at version and returns the
// file's sha256 (hex). Root-Is-Purelib is false when the filename's
// platform tag is not "any".
func Write(t testing.TB, dir, filename, dist, version string, members ...Member) string {
	t.Helper()
	b := Bytes(t, filename, dist, version, members...)
	if err := os.WriteFile(filepath.Join(dir, filename), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Bytes is the wheel Write writes. A member named
// "<dist>-<version>.dist-info/METADATA" replaces the default METADATA
// (Name and Version only), for tests that need Requires-Dist and the like.
func Bytes(t testing.TB, filename, dist, version string, members ...Member) []byte {
	t.Helper()
	di := fmt.Sprintf("%s-%s.dist-info", dist, version)
	purelib := strings.HasSuffix(filename, "-any.whl")
	tag := strings.TrimSuffix(filename[len(dist)+len(version)+2:], ".whl")
	all := append([]Member(nil), members...)
	if !slices.ContainsFunc(members, func(m Member) bool { return m.Name == di+"/METADATA" }) {
		all = append(all, Member{Name: di + "/METADATA", Data: fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", dist, version)})
	}
	all = append(all, Member{Name: di + "/WHEEL", Data: fmt.Sprintf("Wheel-Version: 1.0\nGenerator: wheeltest\nRoot-Is-Purelib: %t\nTag: %s\n", purelib, tag)})
	var rec strings.Builder
	for _, m := range all {
		sum := sha256.Sum256([]byte(m.Data))
		fmt.Fprintf(&rec, "%s,sha256=%s,%d\n", m.Name, base64.RawURLEncoding.EncodeToString(sum[:]), len(m.Data))
	}
	rec.WriteString(di + "/RECORD,,\n")
	all = append(all, Member{Name: di + "/RECORD", Data: rec.String()})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range all {
		h := &zip.FileHeader{Name: m.Name, Method: zip.Deflate}
		h.SetMode(0o644)
		if m.Symlink {
			h.SetMode(os.ModeSymlink | 0o777)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m.Data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
