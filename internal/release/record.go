package release

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/pin"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/verify"
)

type verifyResult struct {
	report  *verify.Report
	command string
	ignore  bool
	vsa     bool // a VSA of it was attached
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
		Trust:     sign.TrustOptions{TrustedRootPath: r.o.Signer.TrustedRoot, Offline: r.o.Signer.Offline, CacheDir: r.o.Signer.CacheDir, TUF: r.o.Signer.TUF},
		Now:       r.o.Now,
	}
	args := []string{"harden", "verify", r.image.String()}
	id := r.signer.Identity
	if r.signer.Keyless {
		o.Identity = verify.Identity{Subject: id.Subject, Issuer: id.Issuer}
		args = append(args, "--certificate-identity", id.Subject, "--certificate-oidc-issuer", id.Issuer)
	} else {
		p := r.out.PublicKey()
		if err := fsutil.WriteFileAtomic(p, r.signer.PublicKeyPEM, 0o644); err != nil {
			return "", false, fmt.Errorf("write the public key: %w", err)
		}
		o.KeyPath = p
		args = append(args, "--key", p)
	}
	if r.o.Signer.TrustedRoot != "" {
		args = append(args, "--trusted-root", r.o.Signer.TrustedRoot)
	}
	// cosign's tag layout cannot carry a Rekor v2 entry, and a key with
	// no log has none: their proof of time is the RFC 3161 timestamp.
	rv := r.signer.RekorVersion
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
	rep, err := r.p.Verifier.Verify(ctx, o)
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
	detail := ""
	if r.o.VSA {
		st, err := rep.Summary(r.o.HardenVersion, r.o.Now())
		if err != nil {
			return "", false, err
		}
		ar, err := r.p.Signer.Statements(ctx, []attest.Statement{st})
		if err != nil {
			return "", false, fmt.Errorf("the image verified, but its VSA: %w", err)
		}
		r.verify.vsa = true
		detail = fmt.Sprintf("; VSA %s", rep.Level())
		if !allPresent(ar) {
			r.created.attested = true
		}
	}
	r.state.Verified = true
	if err := r.saveState(); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%d checks passed (%s)%s", len(rep.Checks), strings.Join(rep.Storage, ", "), detail), false, nil
}

// checkVersionTag refuses to move a version tag: when nothing harden
// compares changed, the tag already exists and must name this very image.
func (r *run) checkVersionTag(ctx context.Context, version string) error {
	tag := r.repo.Tag(version)
	got, err := r.p.Publisher.Resolve(ctx, tag)
	if err != nil || got == "" || got == r.image.DigestStr() {
		return err
	}
	return errs.Check(fmt.Errorf("version tag %s already names %s, and this release is %s (complete and verified, but untagged): a version never moves. Base and lock are unchanged, so something else changed; tag it by hand with --tag, after setting version: in harden.yaml", tag, got, r.image.DigestStr()))
}

// record applies the convenience tags, pins downstream files and writes
// release.json and release.md.
func (r *run) record(ctx context.Context) (string, bool, error) {
	if r.o.DryRun {
		d := "would write " + r.out.Release() + " and " + dist.SummaryFile
		if len(r.o.Tags) > 0 {
			d += ", tag " + strings.Join(r.o.Tags, ", ")
		}
		if len(r.o.Pin) > 0 {
			d += ", pin " + strings.Join(r.o.Pin, ", ")
		}
		return d, false, nil
	}
	rec := *r.rel // the publication, completed below
	rec.Tags = nil
	tags := slices.Clone(r.o.Tags)
	if v := r.version; v != nil {
		if err := r.checkVersionTag(ctx, v.Next); err != nil {
			return "", false, err
		}
		tags = append(tags, v.Next)
		rec.Version = v.Next
	}
	if len(tags) > 0 {
		var ts []name.Tag
		for _, t := range tags {
			ts = append(ts, r.repo.Tag(t))
		}
		if err := r.p.Publisher.Tag(ctx, r.image, ts); err != nil {
			return "", false, fmt.Errorf("%w (the release itself is complete and verified as %s)", err, r.image)
		}
		rec.Tags = tags
	}
	signer := r.signer.Identity
	signer.NotAfter = time.Time{}
	rec.SBOMs, rec.Signer, rec.Storage = r.sboms, &signer, string(r.o.Storage)
	rec.Scans = nil
	for _, pr := range r.scans {
		rec.Scans = append(rec.Scans, dist.ScanResult{Platform: pr.Platform, Digest: pr.Digest, Path: dist.ScanPath(pr.Platform),
			Scanner: pr.Report.Scanner.Name + " " + pr.Report.Scanner.Version, DB: pr.Report.DB, Findings: pr.Report.Counts(), Suppressed: len(pr.Report.Suppressed)})
	}
	in := r.verify.report.Input
	rec.Signatures = logEntries(in.Signatures)
	rec.Attestations = logEntries(in.Attestations)
	rec.Verification = &dist.Verification{Verified: true, At: r.o.Now().UTC().Format(time.RFC3339), Checks: len(r.verify.report.Checks),
		Identity: signer.String(), Command: r.verify.command, IgnoreTlog: r.verify.ignore, Warnings: r.verify.report.Warnings,
		PolicyDigest: r.verify.report.PolicyDigest, VSA: r.verify.vsa}
	rec.Deploy = &dist.Deploy{Image: rec.Image, KubectlRun: kubectlRun(r.o.Project.Config.Name, rec.Image, r.o.Project.Config.Run)}
	rec.Pinned = nil
	for _, p := range r.o.Pin {
		n, err := pinFile(p, r.repo.String(), rec.Digest)
		if err != nil {
			return "", false, err
		}
		rec.Pinned = append(rec.Pinned, dist.PinnedFile{Path: p, Changes: n})
	}
	rec.Upstream = dist.UpstreamSummary(r.o.Project.Lock)
	rec.Stages = append(append([]StageResult(nil), r.results...), StageResult{Stage: StageRecord, Status: "done"})
	if err := r.out.WriteFinal(&rec); err != nil {
		return "", false, err
	}
	r.final = &rec
	return fmt.Sprintf("%s and %s", r.out.Release(), dist.SummaryFile), false, nil
}

func logEntries(vs []verify.Verified) []dist.LogEntry {
	out := []dist.LogEntry{}
	for _, v := range vs {
		ts := v.Timestamps
		if ts == nil {
			ts = []string{}
		}
		out = append(out, dist.LogEntry{Subject: v.Subject, Layout: v.Layout, PredicateType: v.PredicateType,
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

// kubectlRun is a one-off pod of the image by digest, with harden.yaml's
// run: environment and arguments.
func kubectlRun(app, image string, run config.Run) string {
	if app == "" {
		app = "app"
	}
	args := []string{"kubectl", "run", app, "--rm", "-it", "--restart=Never", "--image=" + image}
	for _, k := range slices.Sorted(maps.Keys(run.Env)) {
		args = append(args, "--env="+k+"="+run.Env[k])
	}
	if len(run.Args) > 0 {
		args = append(append(args, "--"), run.Args...)
	}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellWord(a)
	}
	return strings.Join(q, " ")
}

var shellVar = regexp.MustCompile(`^\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})`)

// shellWord quotes s for a POSIX shell, leaving $NAME and ${NAME} for
// the shell to expand: each goes in double quotes, the text around it is
// quoted as shellJoin does.
func shellWord(s string) string {
	var b strings.Builder
	lit := func(t string) {
		if t != "" {
			b.WriteString(shellJoin([]string{t}))
		}
	}
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		if m := shellVar.FindString(s[i:]); m != "" {
			lit(s[start:i])
			b.WriteString(`"` + m + `"`)
			i += len(m) - 1
			start = i + 1
		}
	}
	lit(s[start:])
	if b.Len() == 0 {
		return "''"
	}
	return b.String()
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
