package hardenimagedigest

# Gatekeeper ConstraintTemplate source: deny every container image of a
# Pod, or of a workload's pod template, that is not pinned by digest.
# parameters.repositories limits the rule to those repositories (empty:
# every image); parameters.exemptImages lists images (exact, or a prefix
# ending in *) that are let through.

violation[{"msg": msg}] {
	c := containers[_]
	governed(c.image)
	not exempt(c.image)
	not pinned(c.image)
	msg := sprintf("container %q uses %q, which is not pinned by digest; deploy it as <repository>@sha256:<digest> (harden pin rewrites manifests)", [c.name, c.image])
}

pinned(image) {
	regex.match(`^[^@]+@sha256:[a-f0-9]{64}$`, image)
}

governed(_) {
	count(object.get(input.parameters, "repositories", [])) == 0
}

governed(image) {
	repo := input.parameters.repositories[_]
	image == repo
}

governed(image) {
	repo := input.parameters.repositories[_]
	rest := trim_prefix(image, repo)
	rest != image
	startswith(rest, ":")
}

governed(image) {
	repo := input.parameters.repositories[_]
	rest := trim_prefix(image, repo)
	rest != image
	startswith(rest, "@")
}

exempt(image) {
	e := object.get(input.parameters, "exemptImages", [])[_]
	image == e
}

exempt(image) {
	e := object.get(input.parameters, "exemptImages", [])[_]
	endswith(e, "*")
	startswith(image, trim_suffix(e, "*"))
}

pod_specs[s] {
	input.review.object.kind == "Pod"
	s := input.review.object.spec
}

pod_specs[s] {
	s := input.review.object.spec.template.spec
}

pod_specs[s] {
	s := input.review.object.spec.jobTemplate.spec.template.spec
}

containers[c] {
	s := pod_specs[_]
	field := ["containers", "initContainers", "ephemeralContainers"][_]
	c := s[field][_]
}
