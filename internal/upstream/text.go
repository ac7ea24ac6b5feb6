package upstream

import (
	"fmt"
	"io"
	"strings"

	"github.com/harden-dev/harden/internal/wording"
)

// WriteText renders the coverage for a terminal: how many pins are
// attested, by whom, and which are not; then the warnings.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "upstream provenance: %d of %s attested\n", r.Attested, wording.Count(r.Pins, "pin"))
	for _, p := range r.Publishers {
		fmt.Fprintf(w, "  %s: %s\n", p.Name, strings.Join(p.Pins, ", "))
	}
	if len(r.Unattested) > 0 {
		fmt.Fprintf(w, "  not attested: %s\n", strings.Join(r.Unattested, ", "))
	}
	if len(r.Unchecked) > 0 {
		fmt.Fprintf(w, "  not checked (not in the provenance cache, no index asked): %s\n", strings.Join(r.Unchecked, ", "))
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

// Log writes the coverage to logf, one call per line.
func (r *Report) Log(logf func(format string, args ...any)) {
	var b strings.Builder
	r.WriteText(&b)
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		logf("%s", l)
	}
}
