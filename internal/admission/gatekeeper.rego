package hardenimagedigest

import data.lib.harden

# Deny every governed container image of a Pod, or of a workload's pod
# template, that is not pinned by digest.

violation[{"msg": msg}] {
	c := harden.checked[_]
	not harden.pinned(c.image)
	msg := sprintf("container %q uses %q, which is not pinned by digest; deploy it as <repository>@sha256:<digest> (harden pin rewrites manifests)", [c.name, c.image])
}
