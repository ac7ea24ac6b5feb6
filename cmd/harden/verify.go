package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/rebuild"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/verify"
	"github.com/harden-dev/harden/internal/vsa"
	"github.com/harden-dev/harden/internal/wording"
)

// verifyFlags are the flags verify and rebuild share.
type verifyFlags struct {
	o   verify.Options
	idf verify.IdentityFlags
	// --vsa-from and its requirements.
	fromVSA bool
	summary verify.SummaryRequirement
}

func (v *verifyFlags) add(f *pflag.FlagSet) {
	o := &v.o
	addIdentityFlags(f, &v.idf)
	f.StringVar(&o.KeyPath, "key", "", "public key for key-based signatures (cosign.pub)")
	f.StringVar(&o.Trust.TrustedRootPath, "trusted-root", "", "Sigstore trusted root JSON (default: public good via TUF)")
	f.BoolVar(&o.Trust.Offline, "offline", false, "no network: no TUF refresh or log lookups; trust from --trusted-root or the TUF cache of an earlier online run")
	f.StringVar(&o.Layout, "layout", "", "verify from an OCI layout written by harden export instead of a registry")
	f.StringSliceVar(&o.Platforms, "platform", nil, "limit platform checks (linux/amd64)")
	f.IntVar(&o.ExpectUID, "expect-uid", 10001, "the uid the image must run as")
	f.StringVar(&o.BuilderID, "builder-id", "", "require this SLSA builder id")
	f.StringVar(&o.SourceRepo, "source-repo", "", "require this source repository in the provenance")
	f.StringVar(&o.SourceRef, "source-ref", "", "require this source revision (with --source-repo)")
	f.StringArrayVar(&o.Policies, "policy", nil, "extra Rego policy file or directory (repeatable; package harden, deny/warn rules)")
	f.BoolVar(&o.NoDefaultPolicy, "no-default-policy", false, "do not apply harden's built-in default Rego policy")
	f.BoolVar(&o.InsecureIgnoreTlog, "insecure-ignore-tlog", false, "accept signatures without a transparency log entry (legacy storage with Rekor v2, air-gapped keys)")
	f.StringVar(&o.Vuln.MaxSeverity, "max-severity", "", "require a signed vulnerability scan with nothing worse than this: none, unknown, negligible, low, medium, high or critical (fixable findings only unless --include-unfixed)")
	f.BoolVar(&o.Vuln.IncludeUnfixed, "include-unfixed", false, "with --max-severity, also count findings that have no fix")
	f.DurationVar(&o.Vuln.MaxAge, "max-scan-age", 0, "require a signed vulnerability scan no older than this (e.g. 168h)")
	f.BoolVar(&v.fromVSA, "vsa-from", false, "accept a fresh, passing VSA (verification summary) signed by the identity or --key given, instead of verifying every entry (docs/vsa.md)")
	f.DurationVar(&v.summary.MaxAge, "max-vsa-age", 168*time.Hour, "with --vsa-from: refuse a VSA made longer ago")
	f.StringVar(&v.summary.Level, "require-level", "", "with --vsa-from: the SLSA build level the VSA must record (SLSA_BUILD_LEVEL_1, 2, …)")
	f.StringVar(&v.summary.PolicyDigest, "vsa-policy-digest", "", "with --vsa-from: require the VSA's policy digest (sha256:…, as harden verify -o json reports in policyDigest)")
}

// summaryRequirement checks the --vsa-from requirements.
func summaryRequirement(g *globals, r verify.SummaryRequirement) (*verify.SummaryRequirement, error) {
	if r.MaxAge <= 0 {
		return nil, errs.Input(fmt.Errorf("--max-vsa-age %s: give a positive duration, e.g. 24h", r.MaxAge))
	}
	if r.Level != "" {
		l, err := vsa.ParseLevel(r.Level)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("--require-level: %w", err))
		}
		r.Level = l
	}
	if d := r.PolicyDigest; g.changed("vsa-policy-digest") && !vsa.IsDigest(d) {
		return nil, errs.Input(fmt.Errorf("--vsa-policy-digest %q: give sha256:<64 hex digits>", d))
	}
	return &r, nil
}

// addIdentityFlags adds the flags that name a keyless signer.
func addIdentityFlags(f *pflag.FlagSet, idf *verify.IdentityFlags) {
	f.StringVar(&idf.Subject, "certificate-identity", "", "exact certificate SAN of the signer")
	f.StringVar(&idf.SubjectRegexp, "certificate-identity-regexp", "", "SAN regexp (always anchored ^…$)")
	f.StringVar(&idf.Issuer, "certificate-oidc-issuer", "", "OIDC issuer in the certificate (required for keyless)")
	f.StringVar(&idf.GitHubRepo, "github-repo", "", "owner/repo whose GitHub Actions workflow signed")
	f.StringVar(&idf.GitHubWorkflow, "github-workflow", "", "workflow path (.github/workflows/release.yml, or owner/repo/.github/workflows/x.yml for a reusable one)")
	f.StringVar(&idf.GitHubRef, "github-ref", "", "git ref the workflow ran on (refs/tags/v1.2.3)")
}

// options completes the verify options from the arguments.
func (v *verifyFlags) options(g *globals, a []string) (verify.Options, error) {
	o := v.o
	var err error
	// A flag given as 0 or "" is refused, not read as "not required".
	if g.changed("max-severity") {
		if o.Vuln.MaxSeverity, err = scan.ParseMaxSeverity(o.Vuln.MaxSeverity); err != nil {
			return o, err
		}
	}
	if g.changed("max-scan-age") {
		if err := scan.CheckMaxScanAge(o.Vuln.MaxAge); err != nil {
			return o, err
		}
	}
	if err := checkExpectUID(o.ExpectUID); err != nil {
		return o, err
	}
	if v.fromVSA {
		if o.Summary, err = summaryRequirement(g, v.summary); err != nil {
			return o, err
		}
	} else {
		for _, f := range []string{"max-vsa-age", "require-level", "vsa-policy-digest"} {
			if g.changed(f) {
				return o, errs.Input(fmt.Errorf("--%s applies with --vsa-from", f))
			}
		}
	}
	if len(a) == 1 {
		o.Image = a[0]
	} else if o.Layout == "" {
		return o, errs.Input(fmt.Errorf("name the image (REPO@sha256:…) or an export (--layout DIR)"))
	}
	o.Registry = g.registry()
	if o.Vuln.IncludeUnfixed && o.Vuln.MaxSeverity == "" {
		return o, errs.Input(fmt.Errorf("--include-unfixed only applies with --max-severity"))
	}
	if o.KeyPath == "" {
		id, err := verify.ResolveIdentity(v.idf)
		if err != nil {
			return o, err
		}
		o.Identity = id
	}
	return o, nil
}

// rebuildFlags say where a rebuild's inputs come from.
type rebuildFlags struct{ o rebuild.Options }

func (r *rebuildFlags) add(f *pflag.FlagSet) {
	f.StringVar(&r.o.WheelDir, "wheel-dir", "", "take the wheels from this directory (matched by sha256) instead of their recorded URLs")
	f.StringVar(&r.o.IndexURL, "index-url", "", "take the wheels from this simple index (a mirror) instead of their recorded URLs")
	f.StringVar(&r.o.BaseRepository, "base-repository", "", "pull the base (same digest) from this repository, e.g. a mirror")
	f.StringVar(&r.o.CacheDir, "cache-dir", "", "keep downloaded wheels here (default: a temporary directory, removed afterwards)")
	f.StringVar(&r.o.UpstreamTrustedRoot, "upstream-trusted-root", "", "Sigstore trusted root JSON the PyPI (PEP 740) attestations the provenance records are verified against (default: public good via TUF)")
}

func newVerifyCmd(g *globals) *cobra.Command {
	var vf verifyFlags
	var rf rebuildFlags
	var inputPath string
	var doRebuild bool
	var sf summaryFlags
	cmd := &cobra.Command{
		Use:   "verify IMAGE@sha256:DIGEST | --layout DIR",
		Short: "Prove an image is signed, attested and configured as it claims",
		Long: `Verify checks, for the index and each platform manifest: a signature by the
expected identity (or key); signed SLSA v1 provenance about this digest with the
base pinned by digest and the lock digest; signed SBOMs that agree with the
provenance; a non-root user and an entrypoint. It reads OCI 1.1 referrers (and
the fallback tag) and cosign .sig/.att tags. With --rebuild it also rebuilds the
image from its provenance and requires the same digest (see harden rebuild).
Exit 0 when every check passes, 1 when one fails, 3 when a rebuild input cannot
be obtained.`,
		Args: args(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			o, err := vf.options(g, a)
			if err != nil {
				return err
			}
			o.Rerun = func(image string) string { return rerun(cmd, image) }
			so, err := sf.options(cmd.Context(), g, o)
			if err != nil {
				return err
			}
			var rep *verify.Report
			var rebuildErr error
			if doRebuild {
				ro := rf.o
				ro.Verify, ro.Log = o, g.logf
				res, err := rebuild.Run(cmd.Context(), ro)
				if res == nil {
					return err
				}
				rep, rebuildErr = res.Report, err
			} else if rep, err = verify.Verify(cmd.Context(), o); err != nil {
				return err
			}
			if inputPath != "" {
				if err := verify.WriteInput(inputPath, rep.Input); err != nil {
					return err
				}
			}
			if so != nil {
				ar, err := verify.AttestSummary(cmd.Context(), rep, o, *so)
				if err != nil {
					return err
				}
				rep.VSA = ar
			}
			if err := g.emit(rep, func(w io.Writer) { renderVerify(w, rep) }); err != nil {
				return err
			}
			if errs.ExitCode(rebuildErr) == errs.CodeUnreachable || errs.ExitCode(rebuildErr) == errs.CodeInput {
				return rebuildErr
			}
			return rep.Err()
		},
	}
	f := cmd.Flags()
	vf.add(f)
	rf.add(f)
	f.StringVar(&inputPath, "policy-input", "", "also write the policy input document to this file")
	f.BoolVar(&doRebuild, "rebuild", false, "also rebuild the image from its provenance and require the same digest")
	sf.add(f)
	return cmd
}

// summaryFlags sign a VSA of the verification (--attest-vsa) with the
// verifier's own identity.
type summaryFlags struct {
	on      bool
	sp      attest.SignerParams
	storage string
}

func (s *summaryFlags) add(f *pflag.FlagSet) {
	f.BoolVar(&s.on, "attest-vsa", false, "sign a VSA of the result (PASSED or FAILED) as the verifier and attach it to the index and every platform manifest (docs/vsa.md)")
	f.StringVar(&s.sp.IdentityTokenFile, "vsa-identity-token-file", "", "with --attest-vsa: file holding the verifier's OIDC token (default: $SIGSTORE_ID_TOKEN, GitHub Actions)")
	f.StringVar(&s.sp.KeyPath, "vsa-key", "", "with --attest-vsa: sign with this cosign-format private key ($COSIGN_PASSWORD) instead of keyless")
	f.StringVar(&s.sp.SigningConfig, "signing-config", "", "with --attest-vsa: Sigstore signing config JSON (default: public good via TUF)")
	f.StringVar(&s.storage, "storage", "both", "with --attest-vsa: both, referrers or legacy")
}

// options loads the verifier's signer when --attest-vsa is given.
func (s *summaryFlags) options(ctx context.Context, g *globals, o verify.Options) (*verify.SummaryOptions, error) {
	if !s.on {
		for _, f := range []string{"vsa-identity-token-file", "vsa-key", "signing-config", "storage"} {
			if g.given(f) {
				return nil, errs.Input(fmt.Errorf("--%s applies with --attest-vsa", f))
			}
		}
		return nil, nil
	}
	if o.Summary != nil {
		return nil, errs.Input(fmt.Errorf("--attest-vsa and --vsa-from: a VSA is made from a full verification; drop --vsa-from"))
	}
	if o.Layout != "" {
		return nil, errs.Input(fmt.Errorf("--attest-vsa attaches to the registry the image is in; verify it there, not from --layout"))
	}
	st, err := attach.ParseStorage(s.storage)
	if err != nil {
		return nil, err
	}
	sp := s.sp
	sp.TrustedRoot = o.Trust.TrustedRootPath
	sp.Interactive = term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
	signer, err := attest.NewSigner(ctx, sp)
	if err != nil {
		return nil, err
	}
	g.logf("VSA signer: %s", signer.Identity())
	return &verify.SummaryOptions{Signer: signer, Storage: st, HardenVersion: g.build.Version, Now: time.Now(), Log: g.logf}, nil
}

func renderVerify(w io.Writer, rep *verify.Report) {
	fmt.Fprintf(w, "image  %s\n", rep.Image)
	for _, c := range rep.Checks {
		status := "PASS"
		if !c.Passed {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s  %-15s %s  %s\n", status, c.Name, short(c.Subject), strings.ReplaceAll(c.Reason, "\n", "\n      "))
	}
	for _, m := range rep.Warnings {
		fmt.Fprintf(w, "WARN  %-15s %s\n", "policy", m)
	}
	if n := len(rep.Ignored); n > 0 {
		fmt.Fprintf(w, "NOTE  %-15s %s could not be read as signatures or attestations and were skipped (the list and reasons: --output json)\n", "ignored", wording.Count(n, "registry entry", "registry entries"))
	}
	if a := rep.VSA; a != nil {
		attached := 0
		for _, e := range a.Entries {
			if e.Status == "attached" {
				attached++
			}
		}
		fmt.Fprintf(w, "VSA   %-15s signed by %s, %s attached, %d already present (%s)\n", "summary", a.Identity, wording.Count(attached, "entry", "entries"), len(a.Entries)-attached, a.Storage)
	}
	if rep.Verified {
		fmt.Fprintln(w, "verified")
	} else {
		fmt.Fprintf(w, "NOT verified: %s failed\n", wording.Count(len(rep.Failed()), "check"))
	}
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
