package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/scan"
)

func newScanCmd(g *globals) *cobra.Command {
	var sbomPath, failOn, outDir string
	var dbo scan.DBOptions
	var platforms, vex []string
	var includeUnfixed bool
	cmd := &cobra.Command{
		Use:   "scan IMAGE@sha256:DIGEST | --sbom FILE",
		Short: "Scan an image's packages for known vulnerabilities, with a severity gate",
		Long: `Scan catalogues each platform of the image with syft (or reads --sbom: SPDX,
CycloneDX or syft JSON) and matches the Debian and Python packages against
grype's vulnerability database: downloaded and cached, or --db for a local
copy (air-gapped). A database older than --max-db-age is refused.

The gate fails (exit 1) on findings at or above --fail-on that have a fixed
version (all of them with --include-unfixed). OpenVEX documents (--vex, or
scan.vex in harden.yaml) mark findings not_affected: they are shown, and do
not fail the gate. Output: a table, -o json, or -o sarif for GitHub code
scanning. Defaults come from scan: in harden.yaml when it exists.`,
		Annotations: map[string]string{"sarif": "yes"},
		Args:        args(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			flags := cmd.Flags()
			// Flags given as 0 or "" are refused before anything is read.
			if flags.Changed("max-db-age") {
				if err := scan.CheckMaxDBAge(dbo.MaxAge); err != nil {
					return err
				}
			}
			if flags.Changed("fail-on") {
				if _, err := scan.ParseSeverity(failOn); err != nil {
					return err
				}
			}
			if (len(a) == 1) == (sbomPath != "") {
				return errs.Input(errors.New("name the image (REPO@sha256:…) or an SBOM file (--sbom), one of them"))
			}
			if outDir != "" && sbomPath != "" {
				return errs.Input(errors.New("--out keeps the reports of an image scan for harden attest --type vuln; it does not apply to --sbom"))
			}
			if len(a) == 1 {
				if _, err := digestArg(cmd, a[0]); err != nil {
					return err
				}
			}
			sc, err := scanDefaults(g.config)
			if err != nil {
				return err
			}
			if !flags.Changed("fail-on") {
				failOn = sc.FailOn
			}
			if !flags.Changed("include-unfixed") {
				includeUnfixed = sc.IncludeUnfixed
			}
			if !flags.Changed("vex") {
				vex = sc.VEX
			}
			if !flags.Changed("db") && sc.DB != "" {
				dbo.Path, dbo.PathInConfig = sc.DB, true
			}
			if !flags.Changed("max-db-age") && sc.MaxDBAge.Duration > 0 {
				dbo.MaxAge, dbo.MaxAgeInConfig = sc.MaxDBAge.Duration, true
			}
			gate := scan.Gate{IncludeUnfixed: includeUnfixed}
			if gate.FailOn, err = scan.ParseSeverity(failOn); err != nil {
				return err
			}
			db, err := scan.OpenDB(dbo)
			if err != nil {
				return err
			}
			defer db.Close()
			g.logf("vulnerability database %s, built %s (%s)", db.Status.Schema, db.Status.Built.Format(time.RFC3339), db.Status.Source)
			o := scan.Options{VEX: vex}
			var reports []scan.PlatformReport
			if sbomPath != "" {
				doc, err := os.ReadFile(sbomPath)
				if err != nil {
					return errs.Input(fmt.Errorf("--sbom: %w", err))
				}
				r, err := scan.Scan(cmd.Context(), db, doc, o)
				if err != nil {
					return err
				}
				reports = []scan.PlatformReport{{Report: r}}
			} else {
				sboms, err := scan.SBOMs(cmd.Context(), g.registry(), a[0], platforms)
				if err != nil {
					return err
				}
				if reports, err = scan.ScanSBOMs(cmd.Context(), db, sboms, o); err != nil {
					return err
				}
			}
			if outDir != "" {
				for _, r := range reports {
					path, err := dist.Dir(outDir).WriteScan(r)
					if err != nil {
						return err
					}
					g.logf("wrote %s", path)
				}
			}
			if err := renderScan(g, reports, gate); err != nil {
				return err
			}
			for _, r := range reports {
				if err := r.Report.Check(gate); err != nil {
					if r.Platform != "" {
						return fmt.Errorf("%s: %w", r.Platform, err)
					}
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sbomPath, "sbom", "", "scan this SBOM (SPDX, CycloneDX or syft JSON) instead of an image")
	f.StringSliceVar(&platforms, "platform", nil, "scan only these platforms (linux/amd64)")
	f.StringVar(&outDir, "out", "", "also write each platform's report to DIR/scan/ (a release's output directory), for harden attest --type vuln")
	f.StringVar(&dbo.Path, "db", "", "a local grype v6 database: vulnerability.db, its directory, or an archive (default: download grype's)")
	f.DurationVar(&dbo.MaxAge, "max-db-age", scan.DefaultMaxDBAge, "refuse a database built longer ago (a positive duration; default: scan.maxDBAge in harden.yaml, else 120h)")
	f.StringVar(&failOn, "fail-on", config.DefaultFailOn, "fail on findings of this severity or worse: critical, high, medium, low or negligible")
	f.BoolVar(&includeUnfixed, "include-unfixed", false, "also fail on findings that have no fixed version")
	f.StringArrayVar(&vex, "vex", nil, "OpenVEX document whose not_affected statements suppress findings (repeatable)")
	return cmd
}

// scanDefaults reads scan: from harden.yaml when there is one.
func scanDefaults(path string) (config.Scan, error) {
	c, err := config.Load(path)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) && errors.Is(ce.Err, fs.ErrNotExist) {
			return config.Scan{FailOn: config.DefaultFailOn}, nil
		}
		return config.Scan{}, errs.Input(err)
	}
	return c.ScanSettings(), nil
}

func renderScan(g *globals, reports []scan.PlatformReport, gate scan.Gate) error {
	switch g.output {
	case "sarif":
		if len(reports) != 1 {
			return errs.Input(fmt.Errorf("-o sarif writes one platform; the image has %d, pick one with --platform", len(reports)))
		}
		return reports[0].Report.WriteSARIF(g.stdout)
	case "json":
		return g.emit(reports, nil)
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(g.stdout)
		}
		if r.Platform != "" {
			fmt.Fprintf(g.stdout, "%s  %s\n", r.Platform, r.Digest)
		}
		if err := r.Report.WriteTable(g.stdout, gate); err != nil {
			return err
		}
	}
	return nil
}
