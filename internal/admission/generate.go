package admission

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/scan"
)

// Engines lists the engines Generate writes for.
var Engines = []string{"kyverno", "policy-controller", "gatekeeper", "ratify"}

// Signature formats: where verifiers look for signatures and attestations.
const (
	FormatLegacy = "legacy" // cosign's sha256-<hex>.sig/.att tags
	FormatBundle = "bundle" // Sigstore bundles as OCI 1.1 referrers
)

// Formats are the values --format accepts, default first.
func Formats() []string { return []string{FormatLegacy, FormatBundle} }

// What the policies require; they match what harden attests (see
// docs/buildtype.md and docs/signing.md).
const (
	BuildType     = "https://github.com/harden-dev/harden/blob/main/docs/buildtype.md#v1"
	PredicateSLSA = "https://slsa.dev/provenance/v1"
	PredicateSPDX = "https://spdx.dev/Document"
)

// ParamsFor governs the image harden.yaml describes: its repository, the
// uid it runs as and, from signer:, who signs it.
func ParamsFor(c *config.Config) Params {
	p := Params{Name: c.Name, UID: c.User.UID, BuilderID: c.Signer.BuilderID, Format: FormatLegacy}
	if c.Repository != "" {
		p.Repositories = []string{c.Repository}
	}
	if age := c.Scan.MaxAttestationAge.Duration; age > 0 {
		p.Scan = &ScanRequirement{MaxAge: age, MaxSeverity: scan.MaxSeverityFor(cmp.Or(c.Scan.FailOn, config.DefaultFailOn)), IncludeUnfixed: c.Scan.IncludeUnfixed}
	}
	return p
}

// Generate writes the policy for engine.
func Generate(engine string, p Params) ([]byte, error) {
	if p.Ratify && engine != "gatekeeper" {
		return nil, errs.Input(fmt.Errorf("--ratify adds Ratify's signature check to the Gatekeeper policy; use it with --engine gatekeeper (for %q it has no meaning)", engine))
	}
	if p.VSA != nil && (engine == "gatekeeper" || engine == "ratify") {
		return nil, errs.Input(fmt.Errorf("--from-vsa: --engine %s cannot read attestations, so it cannot check a verification summary; use kyverno or policy-controller", engine))
	}
	switch engine {
	case "":
		return nil, errs.Input(fmt.Errorf("name the engine with --engine (%s)", strings.Join(Engines, ", ")))
	case "gatekeeper":
		return Gatekeeper(p)
	case "kyverno":
		return Kyverno(p)
	case "policy-controller":
		return PolicyController(p)
	case "ratify":
		return Ratify(p)
	}
	return nil, errs.Input(fmt.Errorf("--engine %q: harden generates policies for %s", engine, strings.Join(Engines, ", ")))
}

// checkSigner checks what the signature-verifying engines need on top of
// check: who signs, in which format.
func (p Params) checkSigner() error {
	if err := p.check(); err != nil {
		return err
	}
	if err := p.Scan.check(); err != nil {
		return err
	}
	if err := p.checkKeyless(); err != nil {
		return err
	}
	if p.UID <= 0 {
		return errs.Input(fmt.Errorf("admission policy: expected uid %d: set user.uid in harden.yaml to the non-root uid the image runs as", p.UID))
	}
	return nil
}

// checkKeyless checks the keyless identity and the signature format.
func (p Params) checkKeyless() error {
	switch {
	case p.Issuer == "":
		return errs.Input(errors.New("admission policy: no OIDC issuer for the signer; set signer.issuer (or signer.github) in harden.yaml, or pass --certificate-oidc-issuer or --github-repo"))
	case p.Subject == "" && p.SubjectRegexp == "":
		return errs.Input(errors.New("admission policy: no signer identity; set signer.identity, signer.identityRegexp or signer.github in harden.yaml, or pass --certificate-identity(-regexp) or --github-repo"))
	case p.Subject != "" && p.SubjectRegexp != "":
		return errs.Input(errors.New("admission policy: give the signer identity exactly or as a regexp, not both"))
	}
	if p.SubjectRegexp != "" {
		if _, err := regexp.Compile(p.SubjectRegexp); err != nil {
			return errs.Input(fmt.Errorf("admission policy: identity regexp: %w", err))
		}
	}
	if p.Format != FormatLegacy && p.Format != FormatBundle {
		return errs.Input(fmt.Errorf("admission policy: --format %q: use legacy (cosign .sig/.att tags) or bundle (Sigstore bundles, OCI 1.1 referrers)", p.Format))
	}
	return nil
}
