package baseupdate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestSetScalar(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
		line                int
	}{
		{name: "plain", in: "a: 1\nversion: 4.3.0-r1\nb: 2\n", want: "a: 1\nversion: 4.3.0-r2\nb: 2\n", line: 2},
		{name: "comment kept", in: "version: 4.3.0-r1   # bumped by harden\n", want: "version: 4.3.0-r2   # bumped by harden\n", line: 1},
		{name: "single quoted", in: "version: '4.3.0-r1'\n", want: "version: '4.3.0-r2'\n", line: 1},
		{name: "double quoted", in: "version: \"4.3.0-r1\"\n", want: "version: \"4.3.0-r2\"\n", line: 1},
		{name: "crlf", in: "name: x\r\nversion: 4.3.0-r1\r\n", want: "name: x\r\nversion: 4.3.0-r2\r\n", line: 2},
		{name: "no newline at end", in: "version: 4.3.0-r1", want: "version: 4.3.0-r2", line: 1},
		{name: "value on next line", in: "version:\n  4.3.0-r1\nx: 1\n", want: "version:\n  4.3.0-r2\nx: 1\n", line: 2},
		{name: "nested key ignored", in: "smoke:\n  version: 1\nversion: 4.3.0-r1\n", want: "smoke:\n  version: 1\nversion: 4.3.0-r2\n", line: 3},
		{name: "non-ascii before", in: "é: ü\nversion: 4.3.0-r1\n", want: "é: ü\nversion: 4.3.0-r2\n", line: 2},
		{name: "missing", in: "name: x\n", err: "no top-level version: field"},
		{name: "block scalar", in: "version: |\n  4.3.0-r1\n", err: "is not a plain or quoted scalar"},
		{name: "escapes", in: "version: \"4.3.0\\x2dr1\"\n", err: "spans lines or uses escapes"},
		{name: "not a scalar", in: "version: [1]\n", err: "is not a scalar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, change, err := SetScalar([]byte(tc.in), "version", "4.3.0-r2")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if change.Line != tc.line || !strings.Contains(change.Old, "4.3.0-r1") || !strings.Contains(change.New, "4.3.0-r2") || strings.ContainsAny(change.New, "\r\n") {
				t.Errorf("change %+v", change)
			}
		})
	}
}

func TestSetScalarRefusesUnreadableValue(t *testing.T) {
	// A plain scalar cannot start with "@"; the edit is refused rather
	// than written as something that reads back differently.
	if _, _, err := SetScalar([]byte("base: x\n"), "base", "@x"); err == nil {
		t.Fatal("wrote a value that does not read back")
	}
}

func TestRewriteFrom(t *testing.T) {
	repo, err := name.NewRepository("python")
	if err != nil {
		t.Fatal(err)
	}
	const d = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	in := strings.Join([]string{
		"FROM python",
		"FROM docker.io/library/python:3.12 AS a",
		"FROM index.docker.io/library/python@" + d,
		"  FROM --platform=linux/arm64 python:3.11-slim@" + d + " as b\r",
		"FROM pythonista:3",
		"FROM ${BASE}",
		"FROM $PY:3.12",
		"# FROM python",
		"RUN echo FROM python",
		"FROM",
		"",
	}, "\n")
	want := strings.Join([]string{
		"FROM python:3.13@sha256:new",
		"FROM docker.io/library/python:3.13@sha256:new AS a",
		"FROM index.docker.io/library/python:3.13@sha256:new",
		"  FROM --platform=linux/arm64 python:3.13@sha256:new as b\r",
		"FROM pythonista:3",
		"FROM ${BASE}",
		"FROM $PY:3.12",
		"# FROM python",
		"RUN echo FROM python",
		"FROM",
		"",
	}, "\n")
	got, changes, matched := rewriteFrom([]byte(in), repo, "3.13", "sha256:new")
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if matched != 4 || len(changes) != 4 || changes[3].Line != 4 || changes[3].New != "  FROM --platform=linux/arm64 python:3.13@sha256:new as b" {
		t.Errorf("matched %d, changes %+v", matched, changes)
	}
	// Already pinned: matched, unchanged.
	if _, changes, matched := rewriteFrom([]byte(want), repo, "3.13", "sha256:new"); matched != 4 || len(changes) != 0 {
		t.Errorf("second pass: matched %d, changes %+v", matched, changes)
	}
}

func TestWriteFileFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.yaml")
	link := filepath.Join(dir, "harden.yaml")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file (%v)", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("target holds %q", b)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}
