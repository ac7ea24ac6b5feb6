package hardenimagesignature

import data.lib.harden

# Deny governed images whose signature the external data provider (Ratify,
# input.parameters.provider) does not accept. Fails closed: a provider
# error, or no answer for an image, denies it.

images := {c.image | c := harden.checked[_]}

response := r {
	count(images) > 0
	r := external_data({"provider": input.parameters.provider, "keys": sort([i | i := images[_]])})
}

violation[{"msg": msg}] {
	err := response.system_error
	err != ""
	msg := sprintf("the signature provider %q failed (%s); governed images are refused until it answers", [input.parameters.provider, err])
}

violation[{"msg": msg}] {
	e := response.errors[_]
	msg := sprintf("%s: the signature check failed: %v", [e[0], e[1]])
}

violation[{"msg": msg}] {
	r := response.responses[_]
	not r[1].isSuccess == true
	msg := sprintf("%s: no signature by the release identity verifies (%s)", [r[0], input.parameters.provider])
}

violation[{"msg": msg}] {
	object.get(response, "system_error", "") == ""
	img := images[_]
	not answered(img)
	msg := sprintf("%s: the signature provider %q gave no answer", [img, input.parameters.provider])
}

answered(img) {
	response.responses[_][0] == img
}

answered(img) {
	response.errors[_][0] == img
}
