package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/admission"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/verify"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Admission policies for clusters that run the image", Args: args(cobra.NoArgs)}
	var engine, out, format, trustedRoot, builderID, maxSeverity string
	var scanAge time.Duration
	var includeUnfixed bool
	var repos, exempt []string
	var ignoreTlog, ratify bool
	var idf verify.IdentityFlags
	gen := &cobra.Command{
		Use:   "generate --engine kyverno|policy-controller|gatekeeper|ratify [--out FILE]",
		Short: "Write an admission policy for the image in harden.yaml",
		Long: `Generate writes an engine's native admission policy for the repository of
harden.yaml (or --repository, repeatable).

  kyverno            a ClusterPolicy (verifyImages): by digest, signed by the
                     signer, with harden's SLSA provenance and an SPDX SBOM
  policy-controller  a ClusterImagePolicy with the same requirements, and a
                     TrustRoot for a private Sigstore (--trusted-root)
  gatekeeper         a ConstraintTemplate and Constraint: by digest only;
                     Gatekeeper cannot verify signatures itself. --ratify adds
                     a pair that asks Ratify (external data) for signatures
  ratify             Helm values for Ratify's chart: a cosign keyless trust
                     policy for the signer

The signer comes from signer: in harden.yaml, or the identity flags, as for
harden verify. --format picks where signatures are read: legacy (cosign's
.sig/.att tags) or bundle (Sigstore bundles, OCI 1.1). docs/admission.md
says which engine versions read which.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := config.Load(g.config)
			if err != nil {
				return err
			}
			p := admission.ParamsFor(c)
			if len(repos) > 0 {
				p.Repositories = repos
			}
			p.ExemptImages = exempt
			p.Format, p.IgnoreTlog, p.Ratify = format, ignoreTlog, ratify
			if builderID != "" {
				p.BuilderID = builderID
			}
			if err := signerParams(&p, c.Signer, idf); err != nil {
				return err
			}
			var sf admission.ScanFlags
			fl := cmd.Flags()
			if fl.Changed("max-scan-age") {
				sf.MaxAge = &scanAge
			}
			if fl.Changed("max-severity") {
				sf.MaxSeverity = &maxSeverity
			}
			if fl.Changed("include-unfixed") {
				sf.IncludeUnfixed = &includeUnfixed
			}
			if err := p.ApplyScanFlags(engine, sf); err != nil {
				return err
			}
			if trustedRoot != "" {
				if p.Trust, err = admission.LoadTrust(trustedRoot); err != nil {
					return err
				}
			}
			b, err := admission.Generate(engine, p)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := g.stdout.Write(b)
				return err
			}
			if err := fsutil.WriteFileAtomic(out, b, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			g.logf("wrote %s", out)
			return nil
		},
	}
	f := gen.Flags()
	f.StringVar(&engine, "engine", "", "admission engine: kyverno, policy-controller, gatekeeper or ratify")
	f.BoolVar(&ratify, "ratify", false, "gatekeeper: also require a signature that Ratify accepts (install Ratify with --engine ratify values)")
	f.StringVar(&out, "out", "", "write to this file (default: stdout)")
	f.StringSliceVar(&repos, "repository", nil, "govern these repositories instead of repository: in harden.yaml")
	f.StringSliceVar(&exempt, "exempt-image", nil, "let this image through (exact, or a prefix ending in *)")
	f.StringVar(&format, "format", admission.FormatLegacy, "signature format the engine reads: legacy (cosign tags) or bundle (Sigstore bundles, OCI 1.1)")
	f.StringVar(&trustedRoot, "trusted-root", "", "a private Sigstore's trusted_root.json, written into the policy (default: public-good Sigstore)")
	f.BoolVar(&ignoreTlog, "insecure-ignore-tlog", false, "accept legacy signatures without a log entry (Rekor v2), relying on RFC 3161 timestamps")
	f.StringVar(&builderID, "builder-id", "", "require this SLSA builder id (default: signer.builderId in harden.yaml)")
	f.DurationVar(&scanAge, "max-scan-age", 0, "require a signed vulnerability scan no older than this, e.g. 168h (default: scan.maxAttestationAge in harden.yaml)")
	f.StringVar(&maxSeverity, "max-severity", "", "with a scan required: the worst severity allowed, none|unknown|negligible|low|medium|high|critical (default: one below scan.failOn)")
	f.BoolVar(&includeUnfixed, "include-unfixed", false, "with --max-severity: also count findings without a fix")
	// The signer; without these flags, signer: in harden.yaml.
	addIdentityFlags(f, &idf)
	cmd.AddCommand(gen)
	return cmd
}

// signerParams sets the signer from the flags, or else from harden.yaml.
// Nothing named leaves it empty, which only the Gatekeeper policy allows.
func signerParams(p *admission.Params, s config.Signer, idf verify.IdentityFlags) error {
	if idf == (verify.IdentityFlags{}) {
		idf = verify.IdentityFlags{Subject: s.Identity, SubjectRegexp: s.IdentityRegexp, Issuer: s.Issuer,
			GitHubRepo: s.GitHub.Repo, GitHubWorkflow: s.GitHub.Workflow, GitHubRef: s.GitHub.Ref}
	}
	if idf == (verify.IdentityFlags{}) {
		return nil
	}
	id, err := verify.ResolveIdentity(idf)
	if err != nil {
		return err
	}
	p.Issuer, p.Subject, p.SubjectRegexp = id.Issuer, id.Subject, id.SubjectRegexp
	return nil
}
