package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/internal/admission"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/flagcheck"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/verify"
	"github.com/harden-dev/harden/internal/vsa"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Admission policies for clusters that run the image", Args: args(cobra.NoArgs)}
	var engine, out, format, trustedRoot, builderID, maxSeverity string
	var scanAge time.Duration
	var includeUnfixed bool
	var fromVSA bool
	var vsaKey, vsaLevel, vsaPolicy string
	var vsaAge time.Duration
	var repos, exempt []string
	var ignoreTlog, ratify bool
	var idf verify.IdentityFlags
	gen := &cobra.Command{
		Use:   "generate --engine kyverno|policy-controller|gatekeeper|ratify [--output-file FILE]",
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
says which engine versions read which.

--from-vsa (kyverno, policy-controller) writes a policy that admits an image
on one SLSA verification summary instead: a VSA for the image's digest,
signed by the verifier (the identity flags, or --key cosign.pub), with
verificationResult PASSED, --require-level or a higher level, verified
within --max-vsa-age.

The policy is written as YAML to --output-file or stdout; -o json writes
the same objects as JSON (several as a v1 List, which kubectl applies).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.configErr != nil {
				return g.configErr
			}
			c, err := config.Load(g.config)
			if err != nil {
				return errs.Input(err)
			}
			p := admission.ParamsFor(c)
			if len(repos) > 0 {
				p.Repositories = repos
			}
			p.ExemptImages = exempt
			p.Format, p.IgnoreTlog, p.Ratify = format, ignoreTlog, ratify
			fl := cmd.Flags()
			if fromVSA || fl.Changed("key") || fl.Changed("max-vsa-age") || fl.Changed("require-level") || fl.Changed("vsa-policy-digest") {
				v := admission.VSARequirement{MaxAge: vsaAge, Level: vsaLevel, PolicyDigest: vsaPolicy}
				if err := vsaParams(&p, engine, fromVSA, fl, idf, vsaKey, v); err != nil {
					return err
				}
				return writePolicy(g, engine, p, trustedRoot, out)
			}
			if builderID != "" {
				p.BuilderID = builderID
			}
			if err := signerParams(&p, c.Signer, idf); err != nil {
				return err
			}
			var sf admission.ScanFlags
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
			return writePolicy(g, engine, p, trustedRoot, out)
		},
	}
	f := gen.Flags()
	f.StringVar(&engine, "engine", "", "admission engine: kyverno, policy-controller, gatekeeper or ratify")
	f.BoolVar(&ratify, "ratify", false, "gatekeeper: also require a signature that Ratify accepts (install Ratify with --engine ratify values)")
	f.StringVar(&out, "output-file", "", "write the policy to this file (default: stdout)")
	// --out names a directory on every other command.
	f.StringVar(&out, "out", "", "write the policy to this file")
	_ = f.MarkDeprecated("out", "use --output-file")
	f.StringSliceVar(&repos, "repository", nil, "govern these repositories instead of repository: in harden.yaml")
	f.StringSliceVar(&exempt, "exempt-image", nil, "let this image through (exact, or a prefix ending in *)")
	f.StringVar(&format, "format", admission.FormatLegacy, "signature format the engine reads: legacy (cosign tags) or bundle (Sigstore bundles, OCI 1.1)")
	f.StringVar(&trustedRoot, "trusted-root", "", "a private Sigstore's trusted_root.json, written into the policy (default: public-good Sigstore)")
	f.BoolVar(&ignoreTlog, "insecure-ignore-tlog", false, "accept legacy signatures without a log entry (Rekor v2), relying on RFC 3161 timestamps")
	f.StringVar(&builderID, "builder-id", "", "require this SLSA builder id (default: signer.builderId in harden.yaml)")
	f.DurationVar(&scanAge, "max-scan-age", 0, "require a signed vulnerability scan no older than this, e.g. 168h (default: scan.maxAttestationAge in harden.yaml)")
	f.StringVar(&maxSeverity, "max-severity", "", "with a scan required: the worst severity allowed, none|unknown|negligible|low|medium|high|critical (default: one below scan.failOn)")
	f.BoolVar(&includeUnfixed, "include-unfixed", false, "with --max-severity: also count findings without a fix")
	f.BoolVar(&fromVSA, "from-vsa", false, "admit on a SLSA verification summary signed by the verifier (identity flags or --key) instead of the signature and attestations")
	f.StringVar(&vsaKey, "key", "", "with --from-vsa: the verifier's public key (cosign.pub) instead of a keyless identity")
	f.DurationVar(&vsaAge, "max-vsa-age", admission.DefaultVSAMaxAge, "with --from-vsa: how long ago the VSA may have been verified")
	f.StringVar(&vsaLevel, "require-level", admission.DefaultVSALevel, "with --from-vsa: the SLSA build level the VSA must reach, SLSA_BUILD_LEVEL_0 to 3 (or 0-3); a higher one also does")
	f.StringVar(&vsaPolicy, "vsa-policy-digest", "", "with --from-vsa: require VSAs made under this policy (sha256:…, as harden verify -o json reports in policyDigest)")
	// The signer (with --from-vsa, the verifier); without these flags,
	// signer: in harden.yaml.
	addIdentityFlags(f, &idf)
	cmd.AddCommand(gen)
	return cmd
}

// writePolicy loads the trusted root, generates the policy and writes it
// to out (stdout for "" or "-").
func writePolicy(g *globals, engine string, p admission.Params, trustedRoot, out string) error {
	if trustedRoot != "" {
		var err error
		if p.Trust, err = admission.LoadTrust(trustedRoot); err != nil {
			return err
		}
	}
	b, err := admission.Generate(engine, p)
	if err != nil {
		return err
	}
	if g.output == "json" {
		if b, err = yamlToJSON(b); err != nil {
			return fmt.Errorf("policy as JSON: %w", err)
		}
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
}

// yamlToJSON renders the YAML documents of a policy as JSON: one object,
// or a v1 List of several, as kubectl reads them.
func yamlToJSON(b []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []any
	for {
		var d any
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	var v any = map[string]any{"apiVersion": "v1", "kind": "List", "items": docs}
	if len(docs) == 1 {
		v = docs[0]
	}
	out, err := json.MarshalIndent(v, "", "  ")
	return append(out, '\n'), err
}

// vsaParams sets up a --from-vsa policy: the verifier from the identity
// flags or --key (never from signer: in harden.yaml, which names who
// releases, not who verifies), the age limit and the level. The
// per-attestation flags are refused: the VSA policy replaces them.
func vsaParams(p *admission.Params, engine string, fromVSA bool, fl *pflag.FlagSet, idf verify.IdentityFlags, key string, v admission.VSARequirement) error {
	if !fromVSA {
		for _, f := range []string{"key", "max-vsa-age", "require-level", "vsa-policy-digest"} {
			if fl.Changed(f) {
				return errs.Input(fmt.Errorf("--%s names what a verification summary policy requires; add --from-vsa, or leave --%s out", f, f))
			}
		}
	}
	if engine == "gatekeeper" || engine == "ratify" {
		return errs.Input(fmt.Errorf("--from-vsa: --engine %s cannot read attestations, so it cannot check a verification summary; use --engine kyverno or policy-controller", engine))
	}
	for _, f := range []string{"builder-id", "max-scan-age", "max-severity", "include-unfixed", "ratify"} {
		if fl.Changed(f) {
			return errs.Input(fmt.Errorf("--%s with --from-vsa: the VSA policy requires the verifier's summary instead of the signature, provenance, SBOM and scan, which the verifier checked before signing; set --%s on the verifier's harden verify, or drop --from-vsa", f, f))
		}
	}
	if err := flagcheck.PositiveDuration("max-vsa-age", v.MaxAge, "168h", "for "+admission.DefaultVSAMaxAge.String()); err != nil {
		return err
	}
	var err error
	if v.Level, err = admission.ParseVSALevel(v.Level); err != nil {
		return err
	}
	if fl.Changed("vsa-policy-digest") && !vsa.IsDigest(v.PolicyDigest) {
		return errs.Input(fmt.Errorf("--vsa-policy-digest %q: give sha256:<64 hex digits>, as harden verify -o json reports in policyDigest", v.PolicyDigest))
	}
	p.Scan, p.BuilderID, p.VSA = nil, "", &v
	if key != "" {
		if idf != (verify.IdentityFlags{}) {
			return errs.Input(errors.New("--key and the identity flags both name the verifier; give one: --key for a key-signed VSA, or --certificate-identity(-regexp) with --certificate-oidc-issuer (or --github-repo) for a keyless one"))
		}
		if fl.Changed("trusted-root") {
			return errs.Input(errors.New("--trusted-root is for a keyless verifier; with --key the policy trusts the key alone (no log entry or timestamp required), so leave --trusted-root out"))
		}
		v.PublicKey, err = admission.LoadVerifierKey(key)
		return err
	}
	if idf == (verify.IdentityFlags{}) {
		return errs.Input(errors.New("--from-vsa needs the verifier that signs the VSAs: --certificate-identity (or --certificate-identity-regexp) with --certificate-oidc-issuer, --github-repo, or --key cosign.pub"))
	}
	return signerParams(p, config.Signer{}, idf)
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
