package lib.harden

# Helpers shared by harden's Gatekeeper templates (their libs). A template
# governs the images of input.parameters.repositories (empty: every image)
# except input.parameters.exemptImages (exact, or a prefix ending in *).

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

# Every container, init container and ephemeral container of the request.
containers[c] {
	s := pod_specs[_]
	field := ["containers", "initContainers", "ephemeralContainers"][_]
	c := s[field][_]
}

# The governed, not exempt containers.
checked[c] {
	c := containers[_]
	governed(c.image)
	not exempt(c.image)
}
