package dist

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/sign"
)

// ReleaseSchema identifies the release record format (docs/release-record.md).
const ReleaseSchema = "https://github.com/harden-dev/harden/blob/main/docs/release-record.md#v1"

// Release is release.json. harden publish writes the publication part
// (up to PublishedAt); harden release adds what its later stages proved.
// docs/release-record.schema.json describes it.
type Release struct {
	SchemaVersion string                   `json:"schemaVersion"`
	Image         string                   `json:"image"` // repo@sha256:…, the only reference to deploy
	Repository    string                   `json:"repository"`
	Digest        string                   `json:"digest"`
	Version       string                   `json:"version"`
	Tags          []string                 `json:"tags,omitempty"`
	Platforms     []Platform               `json:"platforms"`
	Base          buildrecord.BaseRecord   `json:"base"`
	Lock          buildrecord.LockRecord   `json:"lock"`
	Source        buildrecord.SourceRecord `json:"source"`
	PublishedAt   time.Time                `json:"publishedAt"`

	// Written by harden release only.
	SBOMs        []SBOMFile     `json:"sboms,omitempty"`
	Scans        []ScanResult   `json:"scans,omitempty"`
	Signer       *sign.Identity `json:"signer,omitempty"`
	Signatures   []LogEntry     `json:"signatures,omitempty"`
	Attestations []LogEntry     `json:"attestations,omitempty"`
	Storage      string         `json:"storage,omitempty"`
	Verification *Verification  `json:"verification,omitempty"`
	Deploy       *Deploy        `json:"deploy,omitempty"`
	Stages       []StageResult  `json:"stages,omitempty"`
	Pinned       []PinnedFile   `json:"pinned,omitempty"`
	// Upstream summarises the lock's upstream provenance records.
	Upstream *Upstream `json:"upstream,omitempty"`
}

// Platform is one platform manifest as pushed.
type Platform struct {
	Platform   string `json:"platform"`
	Digest     string `json:"digest"`
	Image      string `json:"image"` // repo@sha256 of the platform manifest
	BaseDigest string `json:"baseDigest"`
}

// SBOMFile is one SBOM written by the sbom stage.
type SBOMFile struct {
	Platform      string `json:"platform"`
	Format        string `json:"format"`
	PredicateType string `json:"predicateType"`
	Path          string `json:"path"`   // relative to the output directory
	Digest        string `json:"digest"` // sha256:<hex> of the file
	Size          int64  `json:"size"`
}

// ScanResult is the scan stage's result for one platform.
type ScanResult struct {
	Platform   string         `json:"platform"`
	Digest     string         `json:"digest"`
	Path       string         `json:"path"` // the report, relative to the output directory
	Scanner    string         `json:"scanner"`
	DB         scan.DBStatus  `json:"db"`
	Findings   map[string]int `json:"findings"` // by severity
	Suppressed int            `json:"suppressed"`
}

// LogEntry is one verified signature or attestation.
type LogEntry struct {
	Subject        string   `json:"subject"` // sha256:<hex>
	Layout         string   `json:"layout"`  // referrers or legacy
	PredicateType  string   `json:"predicateType,omitempty"`
	LogIndex       *int64   `json:"logIndex,omitempty"`
	IntegratedTime string   `json:"integratedTime,omitempty"`
	Timestamps     []string `json:"timestamps"`
}

// Verification is the self-verification result.
type Verification struct {
	Verified   bool     `json:"verified"`
	At         string   `json:"at"`
	Checks     int      `json:"checks"`
	Identity   string   `json:"identity"`
	Command    string   `json:"command"` // the same check, to paste
	IgnoreTlog bool     `json:"insecureIgnoreTlog,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// PolicyDigest is the policy the verification applied; VSA says a
	// signed verification summary of it was attached (docs/vsa.md).
	PolicyDigest string `json:"policyDigest,omitempty"`
	VSA          bool   `json:"vsa,omitempty"`
}

// Deploy says how to consume the release: by digest only.
type Deploy struct {
	Image      string `json:"image"`
	KubectlRun string `json:"kubectlRun"`
}

// PinnedFile is one downstream file rewritten to the new digest.
type PinnedFile struct {
	Path    string `json:"path"`
	Changes int    `json:"changes"`
}

// StageResult is how one stage of harden release ended.
type StageResult struct {
	Stage   string  `json:"stage"`
	Status  string  `json:"status"` // done, skipped, planned, failed
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail,omitempty"`
}

// Subjects are what a release signs: the index, then every platform
// manifest in the record's order.
func (r *Release) Subjects() ([]name.Digest, error) {
	idx, err := name.NewDigest(r.Image)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("release record: image %q: %w", r.Image, err))
	}
	subs := []name.Digest{idx}
	for _, pl := range r.Platforms {
		d, err := name.NewDigest(pl.Image)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("release record: platform image %q: %w", pl.Image, err))
		}
		subs = append(subs, d)
	}
	return subs, nil
}

// Complete is a record harden release finished: signed and verified.
func (r *Release) Complete() bool { return r.Verification != nil && r.Verification.Verified }

// ReadRelease reads a release record from path.
func ReadRelease(path string) (*Release, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.Input(fmt.Errorf("no release record %s; run harden publish first (or pass --out)", path))
	}
	if err != nil {
		return nil, fmt.Errorf("read release record: %w", err)
	}
	var rel Release
	if err := json.Unmarshal(b, &rel); err != nil {
		return nil, errs.Input(fmt.Errorf("%s is not a release record: %w", path, err))
	}
	if rel.SchemaVersion != ReleaseSchema {
		return nil, errs.Input(fmt.Errorf("%s: unknown release record schema %q; publish again with this harden", path, rel.SchemaVersion))
	}
	if _, err := rel.Subjects(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rel, nil
}

// WriteRelease writes a release record to path, atomically.
func WriteRelease(path string, rel *Release) error {
	b, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return fmt.Errorf("encode release record: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write release record: %w", err)
	}
	return nil
}

// WriteFinal writes release.json and its summary release.md into the
// directory, each atomically.
func (d Dir) WriteFinal(rel *Release) error {
	if err := WriteRelease(d.Release(), rel); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(d.Summary(), rel.Markdown(), 0o644); err != nil {
		return fmt.Errorf("write release summary: %w", err)
	}
	return nil
}

// Markdown is the short human summary written as release.md.
func (r *Release) Markdown() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s\n\n", r.Repository[strings.LastIndex(r.Repository, "/")+1:], r.Version)
	fmt.Fprintf(&b, "**Image (deploy by digest only):** `%s`\n\n", r.Image)
	b.WriteString("| platform | manifest | base |\n|---|---|---|\n")
	for _, p := range r.Platforms {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` |\n", p.Platform, p.Digest, p.BaseDigest)
	}
	fmt.Fprintf(&b, "\n- Base: `%s`\n- Lock: `%s` (`%s`)\n", r.Base.Ref, r.Lock.Path, r.Lock.Digest)
	if r.Source.URL != "" {
		fmt.Fprintf(&b, "- Source: %s %s\n", r.Source.URL, r.Source.Revision)
	}
	if r.Signer != nil {
		fmt.Fprintf(&b, "- Signer: %s\n", r.Signer.String())
	}
	if r.Storage != "" {
		fmt.Fprintf(&b, "- Storage: %s\n", r.Storage)
	}
	if len(r.Tags) > 0 {
		fmt.Fprintf(&b, "- Tags (convenience only): %s\n", strings.Join(r.Tags, ", "))
	}
	if len(r.SBOMs) > 0 {
		b.WriteString("\n## SBOMs\n\n| platform | format | digest |\n|---|---|---|\n")
		for _, s := range r.SBOMs {
			fmt.Fprintf(&b, "| %s | %s | `%s` |\n", s.Platform, s.Format, s.Digest)
		}
	}
	if len(r.Scans) > 0 {
		b.WriteString("\n## Vulnerability scan\n\n| platform | findings | suppressed by VEX | database | report |\n|---|---|---|---|---|\n")
		for _, s := range r.Scans {
			var parts []string
			for _, sev := range []string{"Critical", "High", "Medium", "Low", "Negligible", "Unknown"} {
				if n := s.Findings[sev]; n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(sev)))
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s, built %s | `%s` |\n", s.Platform, cmp.Or(strings.Join(parts, ", "), "none"), s.Suppressed,
				s.DB.Schema, s.DB.Built.Format("2006-01-02"), s.Path)
		}
	}
	r.writeEntries(&b)
	if r.Verification != nil {
		fmt.Fprintf(&b, "\n## Verify\n\n```sh\n%s\n```\n", r.Verification.Command)
	}
	if r.Deploy != nil {
		fmt.Fprintf(&b, "\n## Run\n\n```sh\n%s\n```\n", r.Deploy.KubectlRun)
	}
	return []byte(b.String())
}

// writeEntries lists the signatures and attestations, with the columns
// that have something to say: a key release without a transparency log
// has no log index, and one without a timestamp authority no time.
func (r *Release) writeEntries(b *strings.Builder) {
	type row struct{ subject, kind, layout, index, when string }
	var rows []row
	hasIndex, hasTime := false, false
	add := func(kind string, es []LogEntry) {
		for _, e := range es {
			rw := row{subject: "`" + short(e.Subject) + "`", kind: cmp.Or(e.PredicateType, kind), layout: e.Layout, when: e.IntegratedTime}
			if e.LogIndex != nil {
				rw.index, hasIndex = fmt.Sprint(*e.LogIndex), true
			}
			if rw.when == "" && len(e.Timestamps) > 0 {
				rw.when = e.Timestamps[0]
			}
			hasTime = hasTime || rw.when != ""
			rows = append(rows, rw)
		}
	}
	add("signature", r.Signatures)
	add("attestation", r.Attestations)
	if len(rows) == 0 {
		return
	}
	title := "Signatures and attestations"
	switch {
	case hasIndex:
		title = "Transparency log and timestamps"
	case hasTime:
		title = "Signatures, attestations and timestamps"
	}
	fmt.Fprintf(b, "\n## %s\n\n", title)
	head, sep := "| subject | kind | layout |", "|---|---|---|"
	if hasIndex {
		head, sep = head+" log index |", sep+"---|"
	}
	if hasTime {
		head, sep = head+" time |", sep+"---|"
	}
	fmt.Fprintf(b, "%s\n%s\n", head, sep)
	for _, rw := range rows {
		line := fmt.Sprintf("| %s | %s | %s |", rw.subject, rw.kind, rw.layout)
		if hasIndex {
			line += " " + cmp.Or(rw.index, "–") + " |"
		}
		if hasTime {
			line += " " + cmp.Or(rw.when, "–") + " |"
		}
		b.WriteString(line + "\n")
	}
	switch {
	case !hasIndex && hasTime:
		b.WriteString("\nNo transparency-log entries: the RFC 3161 timestamps are the proof of time.\n")
	case !hasIndex:
		b.WriteString("\nNo transparency-log entries or timestamps: the signatures stand on the key alone.\n")
	}
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
