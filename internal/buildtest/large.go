package buildtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/fixture"
)

// PushBase copies the fixture base index to reg and returns repo@digest.
func PushBase(t testing.TB, fx *fixture.Fixture, reg string) string {
	t.Helper()
	idx, err := fx.BaseIndex()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg + "/library/python:3.11-bookworm-fixture")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(context.Background())); err != nil {
		t.Fatalf("push fixture base to %s: %v", reg, err)
	}
	return ref.Context().Digest(fx.BaseIndexDigest).String()
}

// LargeProject writes, into a fresh directory it returns, a harden.yaml
// installing the wheel bigdata 1.0 (sha256 sum, from bigwheel) on the
// fixture base, with its requirements.in and hash lock.
func LargeProject(t testing.TB, fx *fixture.Fixture, base, repo, sum string) string {
	t.Helper()
	dir := t.TempDir()
	// The wheel is pure Python, so any platform of the fixture does;
	// the host's keeps the build native.
	platform := "linux/" + runtime.GOARCH
	if !slices.Contains(fx.Platforms, platform) {
		platform = fx.Platforms[0]
	}
	files := map[string]string{
		"harden.yaml": fmt.Sprintf(`name: bigdata
version: 1.0-r1
repository: %s
base: %s
platforms: [%s]
requirements: requirements.in
lock: requirements.lock
user: {name: app, uid: 10001, gid: 10001, home: /home/app}
entrypoint: [python3]
`, repo, base, platform),
		"requirements.in":   "bigdata==1.0\n",
		"requirements.lock": "bigdata==1.0 \\\n    --hash=sha256:" + sum + "\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
