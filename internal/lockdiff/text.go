package lockdiff

import (
	"fmt"
	"io"
	"strings"
)

// WriteText renders r for a terminal or a pull-request comment.
func WriteText(w io.Writer, r Report) {
	fmt.Fprintf(w, "old: %s\nnew: %s\n", r.Old, r.New)
	if r.Summary == (Summary{}) {
		fmt.Fprintln(w, "no changes")
	}
	section := func(title string, n int, line func(i int) string) {
		if n == 0 {
			return
		}
		fmt.Fprintln(w, title+":")
		for i := 0; i < n; i++ {
			fmt.Fprintln(w, "  "+line(i))
		}
	}
	section("added", len(r.Added), func(i int) string {
		p := r.Added[i]
		s := pinText(p)
		if len(p.Via) > 0 {
			s += " (via " + strings.Join(p.Via, ", ") + ")"
		}
		return s
	})
	section("removed", len(r.Removed), func(i int) string { return pinText(r.Removed[i]) })
	section("upgraded", len(r.Upgraded), func(i int) string { return changeText(r.Upgraded[i]) })
	section("downgraded", len(r.Downgraded), func(i int) string { return changeText(r.Downgraded[i]) })
	section("changed (equal versions written differently)", len(r.Changed), func(i int) string { return changeText(r.Changed[i]) })
	if len(r.RedFlags) > 0 {
		fmt.Fprintln(w, "RED FLAGS (review before accepting this lock):")
		for _, f := range r.RedFlags {
			fmt.Fprintf(w, "  ! %s: %s %s: %s\n", f.Kind, f.Package, f.Version, f.Message)
			for _, h := range f.RemovedHashes {
				fmt.Fprintf(w, "      - sha256:%s\n", h)
			}
			for _, h := range f.AddedHashes {
				fmt.Fprintf(w, "      + sha256:%s\n", h)
			}
		}
	}
	fmt.Fprintf(w, "summary: %s\n", r.Summary)
}

func pinText(p Pin) string {
	s := p.Name + " " + p.Version
	if p.Marker != "" {
		s += " ; " + p.Marker
	}
	return s
}

func changeText(c Change) string {
	s := c.Name + " " + c.Old + " -> " + c.New
	if c.Marker != "" {
		s += " ; " + c.Marker
	}
	return s
}
