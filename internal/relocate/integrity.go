package relocate

import (
	"errors"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/harden-dev/harden/internal/registry"
)

// contentMismatch reports whether err says that bytes did not match their
// digest: at the source (registry.IsIntegrity, or a blob shorter or
// longer than its descriptor), or as the destination computed it on
// upload.
func contentMismatch(err error) bool {
	if err == nil {
		return false
	}
	if registry.IsIntegrity(err) || strings.Contains(err.Error(), "error verifying size") {
		return true
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			if d.Code == transport.DigestInvalidErrorCode || d.Code == transport.SizeInvalidErrorCode {
				return true
			}
		}
	}
	return false
}
