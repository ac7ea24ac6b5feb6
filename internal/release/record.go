package release

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/pin"
	"github.com/harden-dev/harden/internal/publish"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/verify"
)

// Record is release.json after harden release: the publish record plus
// what the later stages proved (docs/release-record.md). It keeps the
// publish record's schema version; the added fields are optional there.
type Record struct {
	publish.Release
	SBOMs        []SBOMFile    `json:"sboms"`
	Scans        []ScanResult  `json:"scans,omitempty"`
	Signer       sign.Identity `json:"signer"`
	Signatures   []LogEntry    `json:"signatures"`
	Attestations []LogEntry    `json:"attestations"`
	Storage      string        `json:"storage"`
	Verification Verification  `json:"verification"`
	Deploy       Deploy        `json:"deploy"`
	Stages       []StageResult `json:"stages"`
	Pinned       []PinnedFile  `json:"pinned,omitempty"`
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

type verifyResult struct {
	report  *verify.Report
	command string
	ignore  bool
}

// verifyStage runs the verifier users run, with the identity that just
// signed, and fails the release unless every check passes.
func (r *run) verifyStage(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		return "would run harden verify on the published digest with the signing identity", false, nil
	}
	o := verify.Options{
		Image:     r.image.String(),
		Registry:  r.o.Registry,
		ExpectUID: r.o.Project.Config.User.UID,
		Trust:     sign.TrustOptions{TrustedRootPath: r.o.Signer.TrustedRoot, Offline: r.o.Signer.Offline, CacheDir: r.o.Signer.CacheDir},
		Now:       r.o.Now,
	}
	args := []string{"harden", "verify", r.image.String()}
	id := r.signer.Identity()
	if r.signer.Keyless() {
		o.Identity = verify.Identity{Subject: id.Subject, Issuer: id.Issuer}
		args = append(args, "--certificate-identity", id.Subject, "--certificate-oidc-issuer", id.Issuer)
	} else {
		p, err := r.writePublicKey()
		if err != nil {
			return "", false, err
		}
		o.KeyPath = p
		args = append(args, "--key", p)
	}
	if r.o.Signer.TrustedRoot != "" {
		args = append(args, "--trusted-root", r.o.Signer.TrustedRoot)
	}
	// cosign's tag layout cannot carry a Rekor v2 entry, and a key with
	// no log has none: their proof of time is the RFC 3161 timestamp.
	rv := r.signer.RekorVersion()
	if rv == 0 || (r.o.Storage == attach.Legacy && rv == 2) {
		o.InsecureIgnoreTlog = true
		args = append(args, "--insecure-ignore-tlog")
	}
	if uid := r.o.Project.Config.User.UID; uid != 0 && uid != 10001 {
		args = append(args, "--expect-uid", fmt.Sprint(uid))
	}
	// The signed scan must show what the scan stage's gate let through.
	if len(r.scans) > 0 {
		so, err := r.scanSettings()
		if err != nil {
			return "", false, err
		}
		o.Vuln = verify.VulnPolicy{MaxSeverity: scan.MaxSeverityFor(so.Gate.FailOn), IncludeUnfixed: so.Gate.IncludeUnfixed}
		args = append(args, "--max-severity", o.Vuln.MaxSeverity)
		if o.Vuln.IncludeUnfixed {
			args = append(args, "--include-unfixed")
		}
	}
	rep, err := verify.Verify(ctx, o)
	if err != nil {
		return "", false, err
	}
	if !rep.Verified {
		var lines []string
		for _, c := range rep.Failed() {
			lines = append(lines, fmt.Sprintf("%s %s: %s", c.Name, shortDigest(c.Subject), c.Reason))
		}
		return "", false, errs.Check(fmt.Errorf("the published image does not verify (%d failed check(s)); it stays untagged:\n  %s", len(lines), strings.Join(lines, "\n  ")))
	}
	r.verify = &verifyResult{report: rep, command: shellJoin(args), ignore: o.InsecureIgnoreTlog}
	r.state.Verified = true
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%d checks passed (%s)", len(rep.Checks), strings.Join(rep.Storage, ", ")), false, nil
}

// checkVersionTag refuses to move a version tag: when nothing harden
// compares changed, the tag already exists and must name this very image.
func (r *run) checkVersionTag(ctx context.Context, version string) error {
	tag := r.repo.Tag(version)
	desc, err := remote.Head(tag, r.o.Registry.Remote(ctx)...)
	if err != nil {
		if registry.IsNotFound(err) {
			return nil
		}
		return registry.Classify(fmt.Errorf("read version tag %s: %w", tag, err))
	}
	if desc.Digest.String() == r.image.DigestStr() {
		return nil
	}
	return errs.Check(fmt.Errorf("version tag %s already names %s, and this release is %s (complete and verified, but untagged): a version never moves. Base and lock are unchanged, so something else changed; tag it by hand with --tag, after setting version: in harden.yaml", tag, desc.Digest, r.image.DigestStr()))
}

// record applies the convenience tags, pins downstream files and writes
// release.json and release.md.
func (r *run) record(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		d := "would write " + filepath.Join(r.o.Out, "release.json") + " and release.md"
		if len(r.o.Tags) > 0 {
			d += ", tag " + strings.Join(r.o.Tags, ", ")
		}
		if len(r.o.Pin) > 0 {
			d += ", pin " + strings.Join(r.o.Pin, ", ")
		}
		return d, false, nil
	}
	rel := r.rel
	tags := slices.Clone(r.o.Tags)
	if v := r.version; v != nil {
		if err := r.checkVersionTag(ctx, v.Next); err != nil {
			return "", false, err
		}
		tags = append(tags, v.Next)
		rel.Version = v.Next
	}
	if len(tags) > 0 {
		idx, err := r.o.Registry.Index(ctx, r.image)
		if err != nil {
			return "", false, err
		}
		for _, t := range tags {
			tag := r.repo.Tag(t)
			if err := remote.Tag(tag, idx, r.o.Registry.Remote(ctx)...); err != nil {
				return "", false, registry.Classify(fmt.Errorf("tag %s (the release itself is complete and verified as %s): %w", tag, r.image, err))
			}
		}
		rel.Tags = tags
	}
	rec := &Record{Release: *rel, SBOMs: r.sboms, Signer: r.signer.Identity(), Storage: string(r.o.Storage)}
	for _, pr := range r.scans {
		rec.Scans = append(rec.Scans, ScanResult{Platform: pr.Platform, Digest: pr.Digest, Path: filepath.Join("scan", scan.FileName(pr.Platform)),
			Scanner: pr.Report.Scanner.Name + " " + pr.Report.Scanner.Version, DB: pr.Report.DB, Findings: pr.Report.Counts(), Suppressed: len(pr.Report.Suppressed)})
	}
	rec.Signer.NotAfter = time.Time{}
	in := r.verify.report.Input
	rec.Signatures = logEntries(in.Signatures)
	rec.Attestations = logEntries(in.Attestations)
	rec.Verification = Verification{Verified: true, At: r.o.Now().UTC().Format(time.RFC3339), Checks: len(r.verify.report.Checks),
		Identity: rec.Signer.String(), Command: r.verify.command, IgnoreTlog: r.verify.ignore, Warnings: r.verify.report.Warnings}
	rec.Deploy = Deploy{Image: rel.Image, KubectlRun: kubectlRun(r.o.Project.Config.Name, rel.Image)}
	for _, p := range r.o.Pin {
		n, err := pinFile(p, r.repo.String(), rel.Digest)
		if err != nil {
			return "", false, err
		}
		rec.Pinned = append(rec.Pinned, PinnedFile{Path: p, Changes: n})
	}
	rec.Stages = append(append([]StageResult(nil), r.results...), StageResult{Stage: StageRecord, Status: "done"})
	if err := WriteRecord(r.o.Out, rec); err != nil {
		return "", false, err
	}
	r.final = rec
	return fmt.Sprintf("%s and release.md", filepath.Join(r.o.Out, "release.json")), false, nil
}

// WriteRecord writes release.json and release.md into dir, atomically.
func WriteRecord(dir string, rec *Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "release.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write release record: %w", err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "release.md"), Markdown(rec), 0o644); err != nil {
		return fmt.Errorf("write release summary: %w", err)
	}
	return nil
}

func logEntries(vs []verify.Verified) []LogEntry {
	out := []LogEntry{}
	for _, v := range vs {
		ts := v.Timestamps
		if ts == nil {
			ts = []string{}
		}
		out = append(out, LogEntry{Subject: v.Subject, Layout: v.Layout, PredicateType: v.PredicateType,
			LogIndex: v.LogIndex, IntegratedTime: v.IntegratedTime, Timestamps: ts})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		if a.PredicateType != b.PredicateType {
			return a.PredicateType < b.PredicateType
		}
		return a.Layout < b.Layout
	})
	return out
}

// kubectlRun is the seed's one-off pod, by digest.
func kubectlRun(app, image string) string {
	if app == "" {
		app = "app"
	}
	return fmt.Sprintf(`kubectl run %s --rm -it --restart=Never --image=%s -- --host "$DB_HOST" --port 5432 --username "$DB_USER" "$DB_NAME"`, app, image)
}

// pinFile rewrites references to repo in a manifest or Dockerfile.
func pinFile(path, repo, digest string) (int, error) {
	kind, err := pin.KindOf(path)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, errs.Input(fmt.Errorf("--pin %s: %w", path, err))
	}
	rp, err := name.NewRepository(repo)
	if err != nil {
		return 0, err
	}
	out, changes, err := pin.Rewrite(b, kind, rp, digest)
	if err != nil {
		return 0, fmt.Errorf("pin %s: %w", path, err)
	}
	if len(changes) == 0 || bytes.Equal(out, b) {
		return 0, nil
	}
	if err := fsutil.ReplaceFile(path, out); err != nil {
		return 0, err
	}
	return len(changes), nil
}

var safeArg = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellJoin quotes arguments for a POSIX shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if safeArg.MatchString(a) {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'"'"'`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Markdown is the short human summary written as release.md.
func Markdown(rec *Record) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s\n\n", nameOf(rec), rec.Version)
	fmt.Fprintf(&b, "**Image (deploy by digest only):** `%s`\n\n", rec.Image)
	b.WriteString("| platform | manifest | base |\n|---|---|---|\n")
	for _, p := range rec.Platforms {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` |\n", p.Platform, p.Digest, p.BaseDigest)
	}
	fmt.Fprintf(&b, "\n- Base: `%s`\n- Lock: `%s` (`%s`)\n", rec.Base.Ref, rec.Lock.Path, rec.Lock.Digest)
	if rec.Source.URL != "" {
		fmt.Fprintf(&b, "- Source: %s %s\n", rec.Source.URL, rec.Source.Revision)
	}
	fmt.Fprintf(&b, "- Signer: %s\n- Storage: %s\n", rec.Signer.String(), rec.Storage)
	if len(rec.Tags) > 0 {
		fmt.Fprintf(&b, "- Tags (convenience only): %s\n", strings.Join(rec.Tags, ", "))
	}
	b.WriteString("\n## SBOMs\n\n| platform | format | digest |\n|---|---|---|\n")
	for _, s := range rec.SBOMs {
		fmt.Fprintf(&b, "| %s | %s | `%s` |\n", s.Platform, s.Format, s.Digest)
	}
	if len(rec.Scans) > 0 {
		b.WriteString("\n## Vulnerability scan\n\n| platform | findings | suppressed by VEX | database | report |\n|---|---|---|---|---|\n")
		for _, s := range rec.Scans {
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
	b.WriteString("\n## Transparency log and timestamps\n\n| subject | kind | layout | log index | time |\n|---|---|---|---|---|\n")
	rows := func(kind string, es []LogEntry) {
		for _, e := range es {
			idx := "–"
			if e.LogIndex != nil {
				idx = fmt.Sprint(*e.LogIndex)
			}
			when := e.IntegratedTime
			if when == "" && len(e.Timestamps) > 0 {
				when = e.Timestamps[0]
			}
			k := kind
			if e.PredicateType != "" {
				k = e.PredicateType
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", shortDigest(e.Subject), k, e.Layout, idx, when)
		}
	}
	rows("signature", rec.Signatures)
	rows("attestation", rec.Attestations)
	fmt.Fprintf(&b, "\n## Verify\n\n```sh\n%s\n```\n\n## Run\n\n```sh\n%s\n```\n", rec.Verification.Command, rec.Deploy.KubectlRun)
	return []byte(b.String())
}

func nameOf(rec *Record) string {
	i := strings.LastIndex(rec.Repository, "/")
	return rec.Repository[i+1:]
}
