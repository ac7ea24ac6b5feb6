package admission

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	sigtuf "github.com/sigstore/sigstore/pkg/tuf"

	"github.com/harden-dev/harden/internal/sigstoretest"
)

// tufCache makes what a Sigstore client that reads trust from TUF needs
// for a private Sigstore: a TUF repository (file mirror) whose one target
// is trustedRoot as trusted_root.json, and a client cache ($TUF_ROOT)
// initialised from it, as `cosign initialize --mirror --root` would. It
// returns the cache directory, for a child process's TUF_ROOT.
func tufCache(t *testing.T, trustedRoot []byte) string {
	t.Helper()
	repo := sigstoretest.NewTUFRepo(t, map[string][]byte{"trusted_root.json": trustedRoot}, false).Dir
	// sigstore's TUF client is a process-wide singleton that keeps the
	// first mirror it was given, so each cache is initialised in a child
	// process (TestTUFInitialize).
	cache := t.TempDir()
	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestTUFInitialize$", "-test.count=1")
	cmd.Env = append(os.Environ(), envTUFMirror+"=file://"+repo, envTUFRoot+"="+filepath.Join(repo, "root.json"), sigtuf.TufRootEnv+"="+cache)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("initialise the TUF cache from the local mirror: %v\n%s", err, out.String())
	}
	return cache
}

// Set by tufCache for TestTUFInitialize in a child process.
const (
	envTUFMirror = "HARDEN_TEST_TUF_MIRROR"
	envTUFRoot   = "HARDEN_TEST_TUF_ROOT"
)

// TestTUFInitialize initialises $TUF_ROOT from a TUF mirror, as `cosign
// initialize --mirror --root` would. It does something only when tufCache
// runs it in a child process.
func TestTUFInitialize(t *testing.T) {
	mirror := os.Getenv(envTUFMirror)
	if mirror == "" {
		t.Skip("run by tufCache in a child process")
	}
	rootJSON, err := os.ReadFile(os.Getenv(envTUFRoot))
	if err != nil {
		t.Fatal(err)
	}
	if err := sigtuf.Initialize(context.Background(), mirror, rootJSON); err != nil {
		t.Fatal(err)
	}
}
