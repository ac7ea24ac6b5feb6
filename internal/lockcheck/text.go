package lockcheck

import (
	"fmt"
	"io"

	"github.com/harden-dev/harden/internal/wording"
)

// WriteText renders the report for a terminal: one block per target,
// then the warnings.
func (r *Report) WriteText(w io.Writer) {
	for _, t := range r.Targets {
		if len(t.Problems) == 0 {
			fmt.Fprintf(w, "%s (Python %s): %s consistent\n", t.Platform, t.Python, wording.Count(t.Pins, "pin"))
			continue
		}
		fmt.Fprintf(w, "%s (Python %s): %s, %d problem(s)\n", t.Platform, t.Python, wording.Count(t.Pins, "pin"), len(t.Problems))
		for _, p := range t.Problems {
			fmt.Fprintf(w, "  %s: %s\n    fix: %s\n", p.Package, p.Message, p.Fix)
		}
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n    fix: %s\n", p.Message, p.Fix)
	}
	if u := r.Upstream; u != nil {
		u.WriteText(w)
		for _, v := range u.Violations {
			fmt.Fprintf(w, "  %s %s (%s): %s\n", v.Package, v.Version, v.File, v.Message)
			if v.Expected != "" {
				fmt.Fprintf(w, "    expected: %s\n    found: %s\n", v.Expected, v.Found)
			}
			fmt.Fprintf(w, "    fix: %s\n", v.Fix)
		}
	}
}
