package conformance

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/harden-dev/harden/internal/errs"
)

const digestPrefix = "sha256:"

// parseDigest returns the SHA-256 digest arg names when it is a digest by
// the protocol's rule: "sha256:" and 64 hex digits, and no file or
// directory of that name exists. Anything else is a path.
func parseDigest(arg string) ([]byte, bool) {
	h, ok := strings.CutPrefix(arg, digestPrefix)
	if !ok || len(h) != hex.EncodedLen(32) {
		return nil, false
	}
	d, err := hex.DecodeString(h)
	if err != nil {
		return nil, false
	}
	if _, err := os.Lstat(arg); !errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	return d, true
}

// artifactPolicy binds the artifact (a file or a digest) to the
// verification. The returned func closes the file, if one was opened.
func artifactPolicy(arg string) (verify.ArtifactPolicyOption, func(), error) {
	if d, ok := parseDigest(arg); ok {
		return verify.WithArtifactDigest("sha256", d), func() {}, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("open artifact: %w; pass the signed file or its digest as sha256:<64 hex>", err))
	}
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		err = errors.New("is a directory")
	}
	if err != nil {
		f.Close()
		return nil, nil, errs.Input(fmt.Errorf("artifact %s: %w; pass the signed file or its digest as sha256:<64 hex>", arg, err))
	}
	return verify.WithArtifact(f), func() { f.Close() }, nil
}
