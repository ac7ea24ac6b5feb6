package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anchore/clio"
	"github.com/anchore/grype/grype/presenter/models"
	"github.com/anchore/grype/grype/presenter/sarif"
	"github.com/sigstore/cosign/v3/pkg/cosign/attestation"
)

// PredicateType is cosign's vulnerability attestation predicate.
const PredicateType = attestation.CosignVulnProvenanceV01

// WriteTable renders the findings for people, worst first, then what VEX
// suppressed and the gate's verdict.
func (r *Report) WriteTable(w io.Writer, g Gate) error {
	fmt.Fprintf(w, "vulnerability database %s, built %s (%s), scanned with %s %s\n",
		r.DB.Schema, r.DB.Built.Format(time.RFC3339), r.DB.Source, r.Scanner.Name, r.Scanner.Version)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(f Finding, vex string) {
		fixed := strings.Join(f.FixedIn, ", ")
		if fixed == "" {
			fixed = "(" + f.FixState + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Package, f.Version, fixed, f.ID, vex)
	}
	if len(r.Findings)+len(r.Suppressed) > 0 {
		fmt.Fprintln(tw, "SEVERITY\tPACKAGE\tINSTALLED\tFIXED IN\tID\tVEX")
	}
	for _, f := range r.Findings {
		row(f, "")
	}
	for _, f := range r.Suppressed {
		row(f, strings.TrimSpace(f.VEX+" "+f.Justification))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	summary := "no findings"
	if c := CountSummary(r.Counts()); c != "" {
		summary = fmt.Sprintf("%d finding(s): %s", len(r.Findings), c)
	}
	if len(r.Suppressed) > 0 {
		summary += fmt.Sprintf("; %d suppressed by VEX", len(r.Suppressed))
	}
	scope := "fixable only"
	if g.IncludeUnfixed {
		scope = "fixed or not"
	}
	_, err := fmt.Fprintf(w, "%s\ngate: fail on %s and above (%s): %d blocking\n", summary, g.FailOn, scope, len(r.Blocking(g)))
	return err
}

// WriteJSON writes the report.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteSARIF writes SARIF 2.1.0 with grype's presenter, for GitHub code
// scanning.
func (r *Report) WriteSARIF(w io.Writer) error {
	p := sarif.NewPresenter(models.PresenterConfig{
		ID:       clio.Identification{Name: r.Scanner.Name, Version: r.Scanner.Version},
		Document: r.doc,
		SBOM:     r.sbom,
		Pretty:   true,
	})
	if err := p.Present(w); err != nil {
		return fmt.Errorf("write SARIF: %w", err)
	}
	return nil
}

// Predicate is the cosign vulnerability attestation predicate
// (https://cosign.sigstore.dev/attestation/vuln/v1) for the report: the
// scanner, the database (its schema version, and its build time in the
// result), the scan times, and the report itself as the result.
func (r *Report) Predicate() attestation.CosignVulnPredicate {
	return attestation.CosignVulnPredicate{
		Scanner: attestation.Scanner{
			URI:     r.Scanner.URI,
			Version: r.Scanner.Version,
			DB:      attestation.DB{URI: r.DB.Source, Version: r.DB.Schema},
			Result:  r,
		},
		Metadata: attestation.Metadata{ScanStartedOn: r.Started, ScanFinishedOn: r.Finished},
	}
}
