package admission

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/flagcheck"
	"github.com/harden-dev/harden/internal/vsa"
)

// PredicateVSA is SLSA's verification summary predicate, which harden
// signs after verifying an image (docs/vsa.md).
const PredicateVSA = vsa.PredicateType

// Defaults of policy generate --from-vsa.
const (
	// DefaultVSAMaxAge is how old a verification may be (--max-vsa-age).
	DefaultVSAMaxAge = 168 * time.Hour
	// DefaultVSALevel is the level a VSA must reach (--require-level):
	// harden states it when the image's SLSA provenance verified.
	DefaultVSALevel = "SLSA_BUILD_LEVEL_1"
	// VSAClockSkew is how far in the future a VSA's timeVerified may lie,
	// for a verifier whose clock runs ahead of the cluster's.
	VSAClockSkew = 5 * time.Minute
)

// VSAPassed is the verificationResult the policies require.
const VSAPassed = vsa.Passed

// VSARequirement makes a policy admit an image on one SLSA verification
// summary (VSA) signed by a verifier, in place of the signature,
// provenance, SBOM and scan requirements: the verifier checked those
// before it signed. The verifier is the keyless identity of Params
// (Issuer and Subject or SubjectRegexp), or PublicKey.
type VSARequirement struct {
	// MaxAge is how long ago timeVerified may be; it must be positive.
	MaxAge time.Duration
	// Level must be in verifiedLevels, or a higher build level
	// (SLSA_BUILD_LEVEL_2 satisfies SLSA_BUILD_LEVEL_1).
	Level string
	// PolicyDigest, when set, is the sha256:<hex> of the policy the VSA
	// must have been made under (harden verify -o json's policyDigest).
	PolicyDigest string
	// PublicKey, PEM, is the verifier's key; empty for a keyless
	// verifier.
	PublicKey string
}

// ParseVSALevel reads a --require-level value: SLSA_BUILD_LEVEL_0 to
// SLSA_BUILD_LEVEL_3, or 0 to 3, in any case.
func ParseVSALevel(s string) (string, error) {
	l, err := vsa.ParseLevel(s)
	if err != nil {
		return "", errs.Input(fmt.Errorf("--require-level: %w; leave the flag out for %s", err, DefaultVSALevel))
	}
	return l, nil
}

// accepted lists the levels that satisfy the requirement: the required
// one and the higher ones.
func (v VSARequirement) accepted() []string {
	return vsa.Levels[slices.Index(vsa.Levels, v.Level):]
}

// LoadVerifierKey reads the verifier's public key (cosign.pub) for
// --key and returns it as PEM.
func LoadVerifierKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", errs.Input(fmt.Errorf("--key %s: no such file; pass the public key (cosign.pub) of the verifier that signs the VSAs", path))
		}
		return "", errs.Input(fmt.Errorf("--key %s: %w", path, err))
	}
	if _, err := cryptoutils.UnmarshalPEMToPublicKey(b); err != nil {
		return "", errs.Input(fmt.Errorf("--key %s is not a PEM public key (%v); pass cosign.pub, never the private key", path, err))
	}
	return string(b), nil
}

// checkVerifier checks a VSA policy's parameters and returns p with the
// level spelt as ParseVSALevel returns it.
func (p Params) checkVerifier() (Params, error) {
	if err := p.check(); err != nil {
		return p, err
	}
	v := *p.VSA
	if err := flagcheck.PositiveDuration("max-vsa-age", v.MaxAge, "168h", "for "+DefaultVSAMaxAge.String()); err != nil {
		return p, fmt.Errorf("admission policy: %w", err)
	}
	level, err := ParseVSALevel(v.Level)
	if err != nil {
		return p, fmt.Errorf("admission policy: %w", err)
	}
	v.Level = level
	if v.PolicyDigest != "" && !vsa.IsDigest(v.PolicyDigest) {
		return p, errs.Input(fmt.Errorf("admission policy: --vsa-policy-digest %q: give sha256:<64 hex digits>, as harden verify -o json reports in policyDigest", v.PolicyDigest))
	}
	p.VSA = &v
	keyless := p.Issuer != "" || p.Subject != "" || p.SubjectRegexp != ""
	switch {
	case v.PublicKey != "" && keyless:
		return p, errs.Input(errors.New("admission policy: name the VSA verifier by key (--key) or by keyless identity, not both"))
	case v.PublicKey == "" && !keyless:
		return p, errs.Input(errors.New("admission policy: --from-vsa needs the verifier that signs the VSAs: --certificate-identity (or --certificate-identity-regexp) with --certificate-oidc-issuer, --github-repo, or --key cosign.pub"))
	case v.PublicKey != "":
		if _, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(v.PublicKey)); err != nil {
			return p, errs.Input(fmt.Errorf("admission policy: the verifier key is not a PEM public key: %w", err))
		}
		if p.Trust != nil {
			return p, errs.Input(errors.New("admission policy: --trusted-root is for a keyless verifier; a key policy trusts the key alone (no log entry or timestamp required), so leave --trusted-root out"))
		}
		if p.Format != FormatLegacy && p.Format != FormatBundle {
			return p, errs.Input(fmt.Errorf("admission policy: --format %q: use legacy (cosign .sig/.att tags) or bundle (Sigstore bundles, OCI 1.1 referrers)", p.Format))
		}
		return p, nil
	}
	return p, p.checkKeyless()
}

// kyvernoVSA is Kyverno's VSA policy: a verifyImages rule with no
// signature attestors and one attestation, the VSA by the verifier.
// Kyverno evaluates the conditions on every VSA by the verifier that the
// image carries, and admits only when all pass.
func (p Params) kyvernoVSA() ([]byte, error) {
	verifyType := "Cosign"
	if p.Format == FormatBundle {
		verifyType = "SigstoreBundle"
	}
	var entry map[string]any
	if p.VSA.PublicKey != "" {
		// A key is trusted alone: no log entry, no timestamp.
		entry = map[string]any{"keys": map[string]any{
			"publicKeys":         p.VSA.PublicKey,
			"signatureAlgorithm": "sha256",
			"rekor":              map[string]any{"url": publicRekor, "ignoreTlog": true},
			"ctlog":              map[string]any{"ignoreSCT": true},
		}}
	} else {
		entry = map[string]any{"keyless": p.kyvernoKeyless()}
	}
	age := "{{ time_since('', '{{ timeVerified }}', '') }}"
	verify := map[string]any{
		"type":            verifyType,
		"imageReferences": kyvernoImages(p.Repositories),
		"mutateDigest":    false,
		"verifyDigest":    true,
		"required":        true,
		"useCache":        true,
		"attestations": []any{map[string]any{
			"type":      PredicateVSA,
			"attestors": []any{map[string]any{"count": 1, "entries": []any{entry}}},
			"conditions": []any{map[string]any{"all": append([]any{
				because(cond("{{ verificationResult }}", "Equals", VSAPassed),
					"the verification result is {{ verificationResult }}, not "+VSAPassed),
				because(cond("{{ verifiedLevels }}", "AnyIn", p.VSA.accepted()),
					"the verified levels include neither "+p.VSA.Level+" nor a higher level"),
				because(cond(age, "LessThanOrEquals", p.VSA.MaxAge.String()),
					"verified at {{ timeVerified }}, more than "+p.VSA.MaxAge.String()+" ago"),
				because(cond(age, "GreaterThanOrEquals", (-VSAClockSkew).String()),
					"verified at {{ timeVerified }}, more than "+VSAClockSkew.String()+" in the future"),
			}, p.VSA.kyvernoPolicyDigest()...)}},
		}},
	}
	if len(p.ExemptImages) > 0 {
		verify["skipImageReferences"] = p.ExemptImages
	}
	policy := map[string]any{
		"apiVersion": "kyverno.io/v1",
		"kind":       "ClusterPolicy",
		"metadata": map[string]any{
			"name": p.Name + "-verify-vsa",
			"annotations": map[string]any{
				"policies.kyverno.io/title": p.Name + ": images by digest with a fresh SLSA verification summary",
				"policies.kyverno.io/description": fmt.Sprintf("Admits governed images only by digest, with a SLSA verification summary (VSA) for that digest signed by the verifier: %s, %s or a higher level, verified within %s. Replaces %s-verify-images. Generated by harden policy generate --from-vsa.",
					VSAPassed, p.VSA.Level, p.VSA.MaxAge, p.Name),
				"policies.kyverno.io/minversion":              "1.13.0",
				"harden.dev/signature-format":                 p.Format,
				"policies.kyverno.io/subject":                 "Pod",
				"pod-policies.kyverno.io/autogen-controllers": "Deployment,StatefulSet,DaemonSet,ReplicaSet,Job,CronJob",
			},
		},
		"spec": map[string]any{
			"validationFailureAction": "Enforce",
			"background":              false,
			"webhookTimeoutSeconds":   30,
			"failurePolicy":           "Fail",
			"rules": []any{map[string]any{
				"name":         "verify-vsa-" + p.Name,
				"match":        map[string]any{"any": []any{map[string]any{"resources": map[string]any{"kinds": []any{"Pod"}}}}},
				"verifyImages": []any{verify},
			}},
		},
	}
	return stream(policy)
}

// kyvernoPolicyDigest is the condition on the VSA's policy digest, when
// one is required.
func (v VSARequirement) kyvernoPolicyDigest() []any {
	if v.PolicyDigest == "" {
		return nil
	}
	return []any{because(cond("{{ policy.digest.sha256 }}", "Equals", strings.TrimPrefix(v.PolicyDigest, "sha256:")),
		"made under policy sha256:{{ policy.digest.sha256 }}, not "+v.PolicyDigest)}
}

// because gives a Kyverno condition the message its failure reports.
func because(c map[string]any, msg string) map[string]any {
	c["message"] = msg
	return c
}

// policyControllerVSA is policy-controller's VSA policy: one authority,
// the verifier, with one attestation whose Rego policy checks the VSA.
// policy-controller admits when any VSA by the verifier passes.
func (p Params) policyControllerVSA() ([]byte, error) {
	var authority map[string]any
	var docs []any
	if p.VSA.PublicKey != "" {
		if p.Format == FormatBundle {
			// policy-controller v0.13.1: "when using the new bundle
			// format, the authority must be keyless".
			return nil, errs.Input(errors.New("admission policy: policy-controller reads Sigstore bundles for keyless authorities only; generate a key policy with --format legacy"))
		}
		// No ctlog: policy-controller then does not look for log entries.
		authority = map[string]any{"name": "verifier", "signatureFormat": p.Format,
			"key": map[string]any{"data": p.VSA.PublicKey, "hashAlgorithm": "sha256"}}
	} else {
		authority, docs = p.pcKeylessAuthority("verifier")
	}
	authority["attestations"] = []any{map[string]any{"name": "vsa", "predicateType": PredicateVSA,
		"policy": map[string]any{"type": "rego", "data": p.VSA.rego()}}}
	cip := map[string]any{
		"apiVersion": "policy.sigstore.dev/v1beta1",
		"kind":       "ClusterImagePolicy",
		"metadata": map[string]any{
			"name": p.Name + "-verify-vsa",
			"annotations": map[string]any{
				"harden.dev/signature-format": p.Format,
				"harden.dev/description": fmt.Sprintf("Admits governed images by digest with a SLSA verification summary (VSA) for that digest signed by the verifier: %s, %s or a higher level, verified within %s. Replaces %s-verify-images. Generated by harden policy generate --from-vsa.",
					VSAPassed, p.VSA.Level, p.VSA.MaxAge, p.Name),
			},
		},
		"spec": map[string]any{
			"mode":        "enforce",
			"images":      pcGlobs(p.Repositories),
			"authorities": []any{authority},
		},
	}
	return stream(append(docs, cip)...)
}

// rego checks one VSA statement; policy-controller evaluates it as
// data.sigstore.isCompliant. Every check is written so that a missing or
// malformed field is a problem, never an undefined rule that lets the
// VSA through.
func (v VSARequirement) rego() string {
	var levels []string
	for _, l := range v.accepted() {
		levels = append(levels, strconv.Quote(l))
	}
	return fmt.Sprintf(`package sigstore

import rego.v1

# predicate is always an object, so that the messages below are defined.
predicate := p if {
	p := object.get(input, "predicate", {})
	is_object(p)
} else := {}

passed if predicate.verificationResult == %[1]q

problems contains msg if {
	not passed
	msg := sprintf("the verification result is %%v, not %[1]s", [object.get(predicate, "verificationResult", null)])
}

level_ok if {
	some level in predicate.verifiedLevels
	level in {%[2]s}
}

problems contains msg if {
	not level_ok
	msg := sprintf("the verified levels %%v include neither %[3]s nor a higher level", [object.get(predicate, "verifiedLevels", null)])
}

fresh if {
	age := time.now_ns() - time.parse_rfc3339_ns(predicate.timeVerified)
	age <= %[4]d
	age >= -%[5]d
}

problems contains msg if {
	not fresh
	msg := sprintf("verified at %%v: more than %[6]s ago, more than %[8]s ahead, or not a time", [object.get(predicate, "timeVerified", null)])
}

%[7]s# Compliant only when every check holds, whatever the messages do.
default compliant := false

compliant if {
	passed
	level_ok
	fresh%[9]s
	count(problems) == 0
}

isCompliant := [{"result": compliant, "error": concat("; ", sort(problems))}]
`, VSAPassed, strings.Join(levels, ", "), v.Level, v.MaxAge.Nanoseconds(), VSAClockSkew.Nanoseconds(), v.MaxAge, v.policyDigestRego(), VSAClockSkew, v.samePolicyRule())
}

func (v VSARequirement) samePolicyRule() string {
	if v.PolicyDigest == "" {
		return ""
	}
	return "\n\tsame_policy"
}

func (v VSARequirement) policyDigestRego() string {
	if v.PolicyDigest == "" {
		return ""
	}
	return fmt.Sprintf(`same_policy if predicate.policy.digest.sha256 == %[1]q

policy_digest := concat("", ["sha256:", d]) if {
	d := predicate.policy.digest.sha256
	is_string(d)
} else := "none"

problems contains msg if {
	not same_policy
	msg := sprintf("made under policy %%v, not sha256:%[1]s", [policy_digest])
}

`, strings.TrimPrefix(v.PolicyDigest, "sha256:"))
}
