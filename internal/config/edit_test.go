package config

import (
	"strings"
	"testing"
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
