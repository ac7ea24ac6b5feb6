# The default policy of harden verify for the pgcli image. It reads the
# policy input document (docs/policy-input.md, schema v1) and adds to the
# built-in checks: rules a platform team may want to tighten or extend.
package harden

harden_build_type := "https://github.com/harden-dev/harden/blob/main/docs/buildtype.md#v1"

slsa := "https://slsa.dev/provenance/v1"

spdx_types := {"https://spdx.dev/Document", "https://spdx.dev/Document/v2.3"}

cyclonedx := "https://cyclonedx.org/bom"

# A built-in check that already failed has said it once; the rules that
# restate it stay quiet then, and still catch what it might have missed.
builtin_failed(name) if {
	some c in input.checks
	c.name == name
	not c.passed
}

# uid of "10001" or "10001:10001"; undefined when not numeric.
uid(user) := to_number(split(user, ":")[0]) if regex.match(`^[0-9]+(:[0-9]+)?$`, user)

deny contains msg if {
	some p in input.image.platforms
	not uid(p.config.user)
	not builtin_failed("config")
	msg := sprintf("%s: user %q is not a numeric uid; set user: {uid: %d} in harden.yaml and rebuild", [p.platform, p.config.user, input.expected.uid])
}

deny contains msg if {
	some p in input.image.platforms
	uid(p.config.user) == 0
	not builtin_failed("config")
	msg := sprintf("%s: the image runs as root; set a non-root user (uid %d) in harden.yaml and rebuild", [p.platform, input.expected.uid])
}

deny contains msg if {
	some p in input.image.platforms
	u := uid(p.config.user)
	u != 0
	u != input.expected.uid
	not builtin_failed("config")
	msg := sprintf("%s: the image runs as uid %d, the policy expects %d", [p.platform, u, input.expected.uid])
}

deny contains msg if {
	some p in input.image.platforms
	count(p.config.entrypoint) == 0
	not builtin_failed("config")
	msg := sprintf("%s: no entrypoint; set entrypoint: [pgcli] in harden.yaml", [p.platform])
}

signed(digest) if {
	some s in input.signatures
	s.subject == digest
}

deny contains msg if {
	not signed(input.image.digest)
	not builtin_failed("signature")
	msg := sprintf("the index %s has no verified signature; sign it with harden sign", [input.image.digest])
}

deny contains msg if {
	some p in input.image.platforms
	not signed(p.digest)
	not builtin_failed("signature")
	msg := sprintf("%s: the platform manifest %s has no verified signature; sign every manifest (harden sign does)", [p.platform, p.digest])
}

provenance contains a.statement if {
	some a in input.attestations
	a.predicateType == slsa
	a.subject == input.image.digest
}

deny contains msg if {
	count(provenance) == 0
	not builtin_failed("provenance")
	msg := "no verified SLSA v1 provenance for the index; attach it with harden attest --type slsaprovenance1"
}

deny contains msg if {
	some st in provenance
	st.predicate.buildDefinition.buildType != harden_build_type
	msg := sprintf("provenance buildType is %q, not harden's; the image was not built by harden", [st.predicate.buildDefinition.buildType])
}

base_pinned(st) if {
	some d in st.predicate.buildDefinition.resolvedDependencies
	d.name == "base-image"
	d.digest.sha256
	contains(d.uri, concat("", ["@sha256:", d.digest.sha256]))
}

deny contains msg if {
	some st in provenance
	not base_pinned(st)
	not builtin_failed("provenance")
	msg := "provenance does not pin the base image by digest; pin base: to name@sha256:… and rebuild"
}

lock_pinned(st) if {
	lock := st.predicate.buildDefinition.externalParameters.lockDigest
	some d in st.predicate.buildDefinition.resolvedDependencies
	concat(":", ["sha256", d.digest.sha256]) == lock
}

deny contains msg if {
	some st in provenance
	not lock_pinned(st)
	not builtin_failed("provenance")
	msg := "provenance does not record the hash-locked requirements.lock; build from a lock file"
}

has_attestation(digest, types) if {
	some a in input.attestations
	a.subject == digest
	a.predicateType in types
}

deny contains msg if {
	some p in input.image.platforms
	not has_attestation(p.digest, spdx_types)
	not builtin_failed("sbom")
	msg := sprintf("%s: no verified SPDX SBOM; attach it with harden attest --type spdxjson", [p.platform])
}

deny contains msg if {
	some p in input.image.platforms
	not has_attestation(p.digest, {cyclonedx})
	not builtin_failed("sbom")
	msg := sprintf("%s: no verified CycloneDX SBOM; attach it with harden attest --type cyclonedx", [p.platform])
}

git_source(st) if {
	some d in st.predicate.buildDefinition.resolvedDependencies
	startswith(d.uri, "git+")
}

warn contains msg if {
	some st in provenance
	not git_source(st)
	msg := "provenance names no git source; set source: in harden.yaml or build from a git checkout"
}

warn contains msg if {
	some p in input.image.platforms
	not p.config.labels["org.opencontainers.image.source"]
	msg := sprintf("%s: no org.opencontainers.image.source label", [p.platform])
}
