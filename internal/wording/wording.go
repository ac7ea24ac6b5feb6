// Package wording holds the small text helpers of harden's messages:
// counted nouns ("1 pin", "2 pins") and "did you mean" suggestions for a
// mistyped command, flag or value.
package wording

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Count writes n with the noun in the right number: Count(1, "pin") is
// "1 pin", Count(2, "pin") "2 pins". An irregular plural is given as
// the third argument: Count(2, "entry", "entries").
func Count(n int, singular string, plural ...string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, singular)
	}
	p := singular + "s"
	if len(plural) > 0 {
		p = plural[0]
	}
	return fmt.Sprintf("%d %s", n, p)
}

// Closest returns the candidates a user most likely meant by typed,
// nearest first (at most three): those within a small edit distance
// (a typo, a swapped or missing letter), and those typed is a prefix of.
// Case is ignored, so a name typed in the wrong case suggests itself.
// Nothing close gives nil.
func Closest(typed string, candidates []string) []string {
	t := strings.ToLower(typed)
	if t == "" {
		return nil
	}
	// Allowed distance: 1 for short words, up to a third of the length.
	limit := max(1, min(3, len(t)/3))
	type scored struct {
		name string
		d    int
	}
	var hits []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := levenshtein.ComputeDistance(t, lc)
		switch {
		case d <= limit:
		case len(t) >= 2 && strings.HasPrefix(lc, t):
			d = limit + 1 // a completion ranks after a near miss
		default:
			continue
		}
		if !slices.ContainsFunc(hits, func(s scored) bool { return s.name == c }) {
			hits = append(hits, scored{c, d})
		}
	}
	slices.SortStableFunc(hits, func(a, b scored) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.name, b.name)) })
	var out []string
	for _, h := range hits[:min(3, len(hits))] {
		out = append(out, h.name)
	}
	return out
}

// DidYouMean is the suggestion paragraph appended to an error, as cobra
// writes it for commands; "" when there is nothing to suggest.
func DidYouMean(suggestions []string) string {
	if len(suggestions) == 0 {
		return ""
	}
	return "\n\nDid you mean this?\n\t" + strings.Join(suggestions, "\n\t")
}
