// Package vulndb writes small grype v6 vulnerability databases from
// advisories written in Go. The offline tests and the demo scan the pgcli
// fixture image against one (Fixture); production scans use grype's
// published database.
package vulndb

import (
	"fmt"
	"os"
	"time"

	v6 "github.com/anchore/grype/grype/db/v6"
	"gorm.io/gorm"
)

// Advisory is one vulnerability of one package.
type Advisory struct {
	ID          string   // GHSA-…, CVE-…
	Aliases     []string // CVE ids of a GHSA
	Severity    string   // critical, high, medium, low, negligible
	Description string
	// Ecosystem is the syft package type: "python" or "deb".
	Ecosystem string
	// Package is the name; for Debian, the source package (glibc for
	// libc6), as Debian's security tracker keys advisories.
	Package string
	// Debian advisories apply to one release.
	Debian *Release
	// Affected is the affected range, in VersionType's syntax ("< 0.5.0");
	// empty means every version.
	Affected    string
	VersionType string // "python", "dpkg"
	// FixState is fixed, not-fixed or wont-fix; Fixed the first fixed
	// version when fixed.
	FixState string
	Fixed    string
}

// Release is a Debian release.
type Release struct{ Major, Codename string }

// Write creates dir/vulnerability.db holding advisories, stamped as
// built at built.
func Write(dir string, advisories []Advisory, built time.Time) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("vulnerability database: %w", err)
	}
	w, err := v6.NewWriter(v6.Config{DBDirPath: dir})
	if err != nil {
		return fmt.Errorf("vulnerability database %s: %w", dir, err)
	}
	defer func() {
		if cErr := w.Close(); cErr != nil && err == nil {
			err = fmt.Errorf("vulnerability database %s: %w", dir, cErr)
		}
	}()
	captured := built.UTC()
	for _, a := range advisories {
		provider := &v6.Provider{ID: "github", Version: "1", Processor: "harden-vulndb", DateCaptured: &captured}
		scheme := v6.SeveritySchemeCHML
		if a.Debian != nil {
			provider.ID = "debian"
			scheme = v6.SeveritySchemeCHMLN
		}
		vh := &v6.VulnerabilityHandle{
			Name: a.ID, Status: v6.VulnerabilityActive, ProviderID: provider.ID, Provider: provider,
			BlobValue: &v6.VulnerabilityBlob{ID: a.ID, Description: a.Description, Aliases: a.Aliases,
				Severities: []v6.Severity{{Scheme: scheme, Value: a.Severity}}},
		}
		if err := w.AddVulnerabilities(vh); err != nil {
			return fmt.Errorf("add %s: %w", a.ID, err)
		}
		r := v6.Range{Version: v6.Version{Type: a.VersionType, Constraint: a.Affected}, Fix: &v6.Fix{Version: a.Fixed, State: v6.FixStatus(a.FixState)}}
		ph := &v6.AffectedPackageHandle{
			VulnerabilityID: vh.ID,
			Package:         &v6.Package{Ecosystem: a.Ecosystem, Name: a.Package},
			BlobValue:       &v6.PackageBlob{CVEs: a.Aliases, Ranges: []v6.Range{r}},
		}
		if a.Debian != nil {
			ph.OperatingSystem = &v6.OperatingSystem{Name: "debian", ReleaseID: "debian", MajorVersion: a.Debian.Major, Codename: a.Debian.Codename}
			ph.BlobValue.CVEs = []string{a.ID}
		}
		if err := w.AddAffectedPackages(ph); err != nil {
			return fmt.Errorf("add %s for %s: %w", a.ID, a.Package, err)
		}
	}
	if err := w.SetDBMetadata(); err != nil {
		return fmt.Errorf("vulnerability database metadata: %w", err)
	}
	// SetDBMetadata stamps the current time; the caller's time makes the
	// database reproducible and lets tests age it.
	g, ok := w.(interface{ GetDB() *gorm.DB })
	if !ok {
		return fmt.Errorf("vulnerability database: the grype writer no longer exposes its database; cannot set the build time")
	}
	if err := g.GetDB().Exec("UPDATE db_metadata SET build_timestamp = ?", captured).Error; err != nil {
		return fmt.Errorf("vulnerability database build time: %w", err)
	}
	return nil
}

var bookworm = &Release{Major: "12", Codename: "bookworm"}

// Fixture is a database for the pgcli fixture image: real advisories for
// packages the image really holds (Debian bookworm's tar, glibc and ncurses;
// the locked sqlparse, pygments, setuptools and pip), with the severities
// and fixed versions their advisories give.
func Fixture() []Advisory {
	return []Advisory{
		{ID: "GHSA-2m57-hf25-phgg", Aliases: []string{"CVE-2024-4340"}, Severity: "high", Ecosystem: "python", Package: "sqlparse",
			Description: "sqlparse: parsing a heavily nested list leads to a denial of service (RecursionError)",
			Affected:    "< 0.5.0", VersionType: "python", FixState: "fixed", Fixed: "0.5.0"},
		{ID: "GHSA-rrm6-wvj7-cwh2", Aliases: []string{"CVE-2023-30608"}, Severity: "medium", Ecosystem: "python", Package: "sqlparse",
			Description: "sqlparse: regular expression denial of service in the SQL parser",
			Affected:    ">= 0.1.15, < 0.4.4", VersionType: "python", FixState: "fixed", Fixed: "0.4.4"},
		{ID: "GHSA-mrwq-x4v8-fh7p", Aliases: []string{"CVE-2022-40896"}, Severity: "high", Ecosystem: "python", Package: "pygments",
			Description: "Pygments: regular expression denial of service in several lexers",
			Affected:    "< 2.15.0", VersionType: "python", FixState: "fixed", Fixed: "2.15.0"},
		{ID: "GHSA-cx63-2mw6-8hw5", Aliases: []string{"CVE-2024-6345"}, Severity: "high", Ecosystem: "python", Package: "setuptools",
			Description: "setuptools: code injection through package_index download functions",
			Affected:    "< 70.0.0", VersionType: "python", FixState: "fixed", Fixed: "70.0.0"},
		{ID: "GHSA-mq26-g339-26xf", Aliases: []string{"CVE-2023-5752"}, Severity: "low", Ecosystem: "python", Package: "pip",
			Description: "pip: Mercurial configuration injectable in repo revision when installing via pip",
			Affected:    "< 23.3", VersionType: "python", FixState: "fixed", Fixed: "23.3"},
		{ID: "CVE-2023-50495", Severity: "medium", Ecosystem: "deb", Package: "ncurses", Debian: bookworm,
			Description: "ncurses: segmentation fault in _nc_wrap_entry() (no DSA for bookworm, postponed)",
			VersionType: "dpkg", FixState: "not-fixed"},
		{ID: "CVE-2005-2541", Severity: "negligible", Ecosystem: "deb", Package: "tar", Debian: bookworm,
			Description: "tar: setuid/setgid bits kept when extracting as root",
			VersionType: "dpkg", FixState: "not-fixed"},
		{ID: "CVE-2010-4756", Severity: "negligible", Ecosystem: "deb", Package: "glibc", Debian: bookworm,
			Description: "glibc: glob can exhaust CPU and memory through crafted patterns",
			VersionType: "dpkg", FixState: "not-fixed"},
	}
}
