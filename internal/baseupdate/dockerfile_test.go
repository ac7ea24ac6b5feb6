package baseupdate

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

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
