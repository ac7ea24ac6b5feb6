# An example policy on input.upstream (docs/policy-input.md): click must
# come from the pallets/click publish workflow, as PyPI attested it. It
# lives in a test file so that harden verify does not ship it.
package upstream_example_test

required := {"click": {"kind": "GitHub", "repository": "pallets/click", "workflow": "publish.yaml"}}

deny contains msg if {
	some w in input.upstream
	want := required[w.name]
	not publisher_matches(w, want)
	msg := sprintf("%s %s: not published by %s %s %s", [w.name, w.version, want.kind, want.repository, want.workflow])
}

publisher_matches(w, want) if {
	w.attested
	w.publisher.kind == want.kind
	w.publisher.repository == want.repository
	w.publisher.workflow == want.workflow
}

click(publisher) := object.union(
	{"name": "click", "version": "8.1.8", "filename": "click-8.1.8-py3-none-any.whl", "sha256": "cc", "platforms": ["linux/amd64"]},
	publisher,
)

attested(repo) := {"recorded": true, "attested": true, "logIndex": 42, "publisher": {"kind": "GitHub", "repository": repo, "workflow": "publish.yaml", "environment": "pypi"}}

six := {"name": "six", "version": "1.17.0", "filename": "six-1.17.0-py2.py3-none-any.whl", "sha256": "dd", "platforms": ["linux/amd64"], "recorded": true, "attested": false}

test_required_publisher_passes if {
	count(deny) == 0 with input as {"upstream": [click(attested("pallets/click")), six]}
}

test_other_publisher_denied if {
	deny == {"click 8.1.8: not published by GitHub pallets/click publish.yaml"} with input as {"upstream": [click(attested("evil/click")), six]}
}

test_unattested_denied if {
	deny == {"click 8.1.8: not published by GitHub pallets/click publish.yaml"} with input as {"upstream": [click({"recorded": true, "attested": false})]}
}

test_unrecorded_denied if {
	deny == {"click 8.1.8: not published by GitHub pallets/click publish.yaml"} with input as {"upstream": [click({"recorded": false, "attested": false})]}
}

test_other_packages_unconstrained if {
	count(deny) == 0 with input as {"upstream": [six]}
}
