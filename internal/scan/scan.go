package scan

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/anchore/clio"
	"github.com/anchore/grype/grype"
	"github.com/anchore/grype/grype/match"
	"github.com/anchore/grype/grype/matcher"
	"github.com/anchore/grype/grype/matcher/stock"
	"github.com/anchore/grype/grype/pkg"
	"github.com/anchore/grype/grype/presenter/models"
	"github.com/anchore/grype/grype/vex"
	"github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source"

	"github.com/harden-dev/harden/internal/errs"
)

// Scanner names the matcher, for reports and attestations.
type Scanner struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URI     string `json:"uri"`
}

// Finding is one vulnerability of one package.
type Finding struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Severity string   `json:"severity"` // Critical, High, Medium, Low, Negligible, Unknown
	Package  string   `json:"package"`
	Version  string   `json:"version"`
	Type     string   `json:"type"` // syft package type: deb, python, ...
	PURL     string   `json:"purl,omitempty"`
	FixState string   `json:"fixState"` // fixed, not-fixed, wont-fix, unknown
	FixedIn  []string `json:"fixedIn,omitempty"`
	// VEX is the OpenVEX status that suppressed the finding, with the
	// justification the statement gives.
	VEX           string `json:"vex,omitempty"`
	Justification string `json:"justification,omitempty"`
}

// Fixable reports whether a fixed version exists.
func (f Finding) Fixable() bool { return f.FixState == "fixed" && len(f.FixedIn) > 0 }

// Report is the result of one scan.
type Report struct {
	Scanner  Scanner   `json:"scanner"`
	DB       DBStatus  `json:"db"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Findings are sorted by severity (worst first), package and id.
	Findings []Finding `json:"findings"`
	// Suppressed are the findings an OpenVEX statement marked not_affected
	// (or fixed); they do not count for the gate.
	Suppressed []Finding `json:"suppressed,omitempty"`

	doc  models.Document
	sbom *sbom.SBOM
}

// Options adjust a scan.
type Options struct {
	// VEX are OpenVEX documents (paths) whose not_affected and fixed
	// statements suppress findings.
	VEX []string
	// Now is the clock for the report's times; nil is time.Now.
	Now func() time.Time
}

// Scan matches an SBOM (syft JSON, SPDX or CycloneDX, as grype reads
// them) against db.
func Scan(ctx context.Context, db *DB, sbomDoc []byte, o Options) (*Report, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	started := now().UTC()
	pkgs, pctx, doc, err := pkg.ProvideFromReader(bytes.NewReader(sbomDoc), pkg.ProviderConfig{})
	if err != nil {
		return nil, errs.Input(fmt.Errorf("read SBOM: %w; pass an SPDX 2.3, CycloneDX or syft JSON SBOM", err))
	}
	if pctx.Source == nil {
		// grype's VEX matching reads the source; an SBOM may name none.
		pctx.Source = &source.Description{}
	}
	m := grype.VulnerabilityMatcher{
		VulnerabilityProvider: db.provider,
		Matchers:              matcher.NewDefaultMatchers(matcher.Config{Stock: stock.MatcherConfig{UseCPEs: true}}),
	}
	if len(o.VEX) > 0 {
		if m.VexProcessor, err = vex.NewProcessor(vex.ProcessorOptions{Documents: o.VEX}); err != nil {
			return nil, errs.Input(fmt.Errorf("VEX %s: %w; pass OpenVEX documents", strings.Join(o.VEX, ", "), err))
		}
	}
	matches, ignored, err := m.FindMatchesContext(ctx, pkgs, pctx)
	if err != nil {
		return nil, fmt.Errorf("match vulnerabilities: %w", err)
	}
	r := &Report{Scanner: grypeScanner(), DB: db.Status, Started: started, sbom: doc}
	for _, x := range matches.Sorted() {
		r.Findings = append(r.Findings, finding(db, x))
	}
	for _, x := range ignored {
		for _, rule := range x.AppliedIgnoreRules {
			if rule.Namespace == "vex" {
				f := finding(db, x.Match)
				f.VEX, f.Justification = rule.VexStatus, rule.VexJustification
				r.Suppressed = append(r.Suppressed, f)
				break
			}
		}
	}
	sortFindings(r.Findings)
	sortFindings(r.Suppressed)
	id := clio.Identification{Name: r.Scanner.Name, Version: r.Scanner.Version}
	if r.doc, err = models.NewDocument(id, pkgs, pctx, *matches, ignored, db.provider, nil, db.Status, models.SortBySeverity, false, nil); err != nil {
		return nil, fmt.Errorf("scan document: %w", err)
	}
	r.Finished = now().UTC()
	return r, nil
}

func finding(db *DB, x match.Match) Finding {
	v := x.Vulnerability
	meta := v.Metadata
	if meta == nil {
		meta, _ = db.provider.VulnerabilityMetadata(v.Reference)
	}
	sev := "Unknown"
	if meta != nil && meta.Severity != "" {
		sev = canonicalSeverity(meta.Severity)
	}
	f := Finding{
		ID: v.ID, Severity: sev, Package: x.Package.Name, Version: x.Package.Version,
		Type: string(x.Package.Type), PURL: x.Package.PURL,
		FixState: string(v.Fix.State), FixedIn: slices.Clone(v.Fix.Versions),
	}
	for _, rel := range v.RelatedVulnerabilities {
		if rel.ID != v.ID && !slices.Contains(f.Aliases, rel.ID) {
			f.Aliases = append(f.Aliases, rel.ID)
		}
	}
	slices.Sort(f.Aliases)
	return f
}

func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)),
			strings.Compare(a.Package, b.Package),
			strings.Compare(a.Version, b.Version),
			strings.Compare(a.ID, b.ID))
	})
}

// grypeScanner names the grype library linked into this binary.
func grypeScanner() Scanner {
	s := Scanner{Name: "grype", Version: "unknown", URI: "pkg:golang/github.com/anchore/grype"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/anchore/grype" {
				s.Version = d.Version
				s.URI += "@" + d.Version
			}
		}
	}
	return s
}
