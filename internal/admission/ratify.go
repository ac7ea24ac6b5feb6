package admission

import (
	"errors"

	"github.com/harden-dev/harden/internal/errs"
)

// Ratify returns Helm values for Ratify's chart (v1.4): a cosign verifier
// whose keyless trust policy is the signer, scoped to the governed
// repositories, and no Notation verifier. Installed with the chart, Ratify
// serves the Gatekeeper external data Provider "ratify-provider" that the
// HardenImageSignature constraint (gatekeeper --ratify) calls.
//
// Ratify verifies signatures, not attestations: provenance and SBOM
// requirements need Kyverno or policy-controller.
func Ratify(p Params) ([]byte, error) {
	if err := p.checkSigner(); err != nil {
		return nil, err
	}
	if p.Trust != nil {
		return nil, errs.Input(errors.New("--engine ratify: Ratify v1.4 has no setting for a private Sigstore's Fulcio roots or timestamp authority; generate for kyverno or policy-controller, which take --trusted-root"))
	}
	keyless := map[string]any{"certificateOIDCIssuer": p.Issuer, "ctLogVerify": true}
	if p.SubjectRegexp != "" {
		keyless["certificateIdentityRegExp"] = p.SubjectRegexp
	} else {
		keyless["certificateIdentity"] = p.Subject
	}
	scopes := []string{"*"}
	if len(p.Repositories) > 0 {
		scopes = nil
		for _, r := range p.Repositories {
			scopes = append(scopes, r+"@*")
		}
	}
	values := map[string]any{
		"notation": map[string]any{"enabled": false},
		"cosign": map[string]any{
			"enabled":    true,
			"scopes":     scopes,
			"tLogVerify": !p.IgnoreTlog,
			"rekorURL":   publicRekor,
			"keyless":    keyless,
		},
		// Pods must name digests (HardenImageDigest); Ratify must not
		// rewrite tags to digests behind the manifests' back.
		"provider": map[string]any{"enableMutation": false},
	}
	return stream(values)
}
