package harden_test

import data.harden

idx := "sha256:1111111111111111111111111111111111111111111111111111111111111111"

plat := "sha256:2222222222222222222222222222222222222222222222222222222222222222"

provenance := {
	"predicateType": "https://slsa.dev/provenance/v1",
	"predicate": {
		"buildDefinition": {
			"buildType": "https://github.com/harden-dev/harden/blob/main/docs/buildtype.md#v1",
			"externalParameters": {"lockDigest": "sha256:cc"},
			"resolvedDependencies": [
				{"name": "base-image", "uri": "docker.io/library/python@sha256:aa", "digest": {"sha256": "aa"}},
				{"name": "requirements.lock", "uri": "requirements.lock", "digest": {"sha256": "cc"}},
				{"uri": "git+https://github.com/org/pgcli-image@0123", "digest": {"gitCommit": "0123"}},
			],
		},
		"runDetails": {"builder": {"id": "https://github.com/harden-dev/harden/builders/local@v1"}},
	},
}

good := {
	"schemaVersion": "https://github.com/harden-dev/harden/blob/main/docs/policy-input.md#v1",
	"image": {
		"reference": concat("@", ["ghcr.io/org/pgcli", idx]), "repository": "ghcr.io/org/pgcli", "digest": idx,
		"platforms": [{"platform": "linux/amd64", "digest": plat, "config": {
			"user": "10001:10001", "entrypoint": ["pgcli"],
			"labels": {"org.opencontainers.image.source": "https://github.com/org/pgcli-image"},
		}}],
	},
	"expected": {"uid": 10001},
	"signatures": [{"subject": idx, "layout": "referrers"}, {"subject": plat, "layout": "referrers"}],
	"attestations": [
		{"subject": idx, "predicateType": "https://slsa.dev/provenance/v1", "statement": provenance},
		{"subject": plat, "predicateType": "https://spdx.dev/Document", "statement": {}},
		{"subject": plat, "predicateType": "https://cyclonedx.org/bom", "statement": {}},
	],
	"checks": [],
}

with_user(u) := json.patch(good, [{"op": "replace", "path": "/image/platforms/0/config/user", "value": u}])

test_good_input_passes if {
	count(harden.deny) == 0 with input as good
	count(harden.warn) == 0 with input as good
}

test_root_denied if {
	some m in harden.deny with input as with_user("0:0")
	contains(m, "runs as root")
}

test_non_numeric_user_denied if {
	some m in harden.deny with input as with_user("pgcli")
	contains(m, "not a numeric uid")
}

test_other_uid_denied if {
	some m in harden.deny with input as with_user("1000")
	contains(m, "uid 1000, the policy expects 10001")
}

test_no_entrypoint_denied if {
	inp := json.patch(good, [{"op": "replace", "path": "/image/platforms/0/config/entrypoint", "value": []}])
	some m in harden.deny with input as inp
	contains(m, "no entrypoint")
}

test_unsigned_index_denied if {
	inp := json.patch(good, [{"op": "remove", "path": "/signatures/0"}])
	some m in harden.deny with input as inp
	contains(m, "the index")
}

test_unsigned_platform_denied if {
	inp := json.patch(good, [{"op": "remove", "path": "/signatures/1"}])
	some m in harden.deny with input as inp
	contains(m, "platform manifest")
}

test_missing_provenance_denied if {
	inp := json.patch(good, [{"op": "remove", "path": "/attestations/0"}])
	some m in harden.deny with input as inp
	contains(m, "no verified SLSA v1 provenance")
}

test_provenance_for_another_digest_denied if {
	inp := json.patch(good, [{"op": "replace", "path": "/attestations/0/subject", "value": plat}])
	some m in harden.deny with input as inp
	contains(m, "no verified SLSA v1 provenance")
}

test_foreign_build_type_denied if {
	inp := json.patch(good, [{"op": "replace", "path": "/attestations/0/statement/predicate/buildDefinition/buildType", "value": "https://example.com/other"}])
	some m in harden.deny with input as inp
	contains(m, "not harden's")
}

test_base_by_tag_denied if {
	inp := json.patch(good, [
		{"op": "replace", "path": "/attestations/0/statement/predicate/buildDefinition/resolvedDependencies/0/uri", "value": "python:3.12"},
		{"op": "remove", "path": "/attestations/0/statement/predicate/buildDefinition/resolvedDependencies/0/digest"},
	])
	some m in harden.deny with input as inp
	contains(m, "does not pin the base image")
}

test_missing_lock_denied if {
	inp := json.patch(good, [{"op": "remove", "path": "/attestations/0/statement/predicate/buildDefinition/resolvedDependencies/1"}])
	some m in harden.deny with input as inp
	contains(m, "requirements.lock")
}

test_missing_spdx_denied if {
	inp := json.patch(good, [{"op": "remove", "path": "/attestations/1"}])
	some m in harden.deny with input as inp
	contains(m, "no verified SPDX SBOM")
}

test_missing_cyclonedx_denied if {
	inp := json.patch(good, [{"op": "remove", "path": "/attestations/2"}])
	some m in harden.deny with input as inp
	contains(m, "no verified CycloneDX SBOM")
}

test_spdx_v23_type_accepted if {
	inp := json.patch(good, [{"op": "replace", "path": "/attestations/1/predicateType", "value": "https://spdx.dev/Document/v2.3"}])
	count(harden.deny) == 0 with input as inp
}

test_no_git_source_warns if {
	inp := json.patch(good, [{"op": "remove", "path": "/attestations/0/statement/predicate/buildDefinition/resolvedDependencies/2"}])
	count(harden.deny) == 0 with input as inp
	some m in harden.warn with input as inp
	contains(m, "no git source")
}

test_no_source_label_warns if {
	inp := json.patch(good, [{"op": "remove", "path": "/image/platforms/0/config/labels/org.opencontainers.image.source"}])
	some m in harden.warn with input as inp
	contains(m, "org.opencontainers.image.source")
}

# A failed built-in check is said once: the rules that restate it stay
# quiet, and the others still apply.
test_failed_builtin_not_repeated if {
	inp := json.patch(good, [
		{"op": "replace", "path": "/signatures", "value": []},
		{"op": "replace", "path": "/attestations", "value": []},
		{"op": "replace", "path": "/image/platforms/0/config/user", "value": "0:0"},
		{"op": "replace", "path": "/checks", "value": [
			{"name": "signature", "passed": false}, {"name": "provenance", "passed": false},
			{"name": "sbom", "passed": false}, {"name": "config", "passed": false},
		]},
	])
	count(harden.deny) == 0 with input as inp
}

test_passed_builtin_still_backed_by_policy if {
	inp := json.patch(good, [
		{"op": "replace", "path": "/signatures", "value": []},
		{"op": "replace", "path": "/checks", "value": [{"name": "signature", "passed": true}]},
	])
	count(harden.deny) == 2 with input as inp
}
