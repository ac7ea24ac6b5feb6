package wording

import (
	"slices"
	"testing"
)

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		args []string
		want string
	}{
		{0, []string{"pin"}, "0 pins"},
		{1, []string{"pin"}, "1 pin"},
		{2, []string{"pin"}, "2 pins"},
		{1, []string{"entry", "entries"}, "1 entry"},
		{3, []string{"entry", "entries"}, "3 entries"},
		{-1, []string{"file"}, "-1 files"},
	} {
		if got := Count(c.n, c.args[0], c.args[1:]...); got != c.want {
			t.Errorf("Count(%d, %q) = %q, want %q", c.n, c.args, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	flags := []string{"fail-on", "fail-on-red-flags", "format", "out", "output", "output-file", "platform", "identity-token", "identity-token-file"}
	for _, c := range []struct {
		typed string
		want  []string
	}{
		{"fail-onn", []string{"fail-on"}},
		{"FAIL-ON", []string{"fail-on", "fail-on-red-flags"}}, // flags are case-sensitive
		{"fial-on", []string{"fail-on"}},
		{"ouput", []string{"output"}},
		{"ot", []string{"out"}},
		{"output-fil", []string{"output-file"}},
		{"platfrom", []string{"platform"}},
		{"identity", []string{"identity-token", "identity-token-file"}},
		{"zzz", nil},
		{"", nil},
		{"o", nil},
	} {
		if got := Closest(c.typed, flags); !slices.Equal(got, c.want) {
			t.Errorf("Closest(%q) = %q, want %q", c.typed, got, c.want)
		}
	}
	if got := Closest("a", []string{"b", "c", "d", "e"}); len(got) != 3 {
		t.Errorf("at most three suggestions, got %q", got)
	}
}

func TestDidYouMean(t *testing.T) {
	if got := DidYouMean(nil); got != "" {
		t.Errorf("no suggestion: %q", got)
	}
	if got, want := DidYouMean([]string{"build", "bump"}), "\n\nDid you mean this?\n\tbuild\n\tbump"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
