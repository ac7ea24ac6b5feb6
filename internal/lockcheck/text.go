package lockcheck

import (
	"fmt"
	"io"
)

// WriteText renders the report for a terminal: one block per target,
// then the warnings.
func (r *Report) WriteText(w io.Writer) {
	for _, t := range r.Targets {
		if len(t.Problems) == 0 {
			fmt.Fprintf(w, "%s (Python %s): %d pins consistent\n", t.Platform, t.Python, t.Pins)
			continue
		}
		fmt.Fprintf(w, "%s (Python %s): %d pins, %d problem(s)\n", t.Platform, t.Python, t.Pins, len(t.Problems))
		for _, p := range t.Problems {
			fmt.Fprintf(w, "  %s: %s\n    fix: %s\n", p.Package, p.Message, p.Fix)
		}
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n    fix: %s\n", p.Message, p.Fix)
	}
}
