package admission

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	sigtuf "github.com/sigstore/sigstore/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// tufCache makes what a Sigstore client that reads trust from TUF needs
// for a private Sigstore: a TUF repository (file mirror) whose one target
// is trustedRoot as trusted_root.json, and a client cache ($TUF_ROOT)
// initialised from it, as `cosign initialize --mirror --root` would. It
// returns the cache directory, for a child process's TUF_ROOT.
func tufCache(t *testing.T, trustedRoot []byte) string {
	t.Helper()
	repo := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadSigner(priv, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	key, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().AddDate(0, 0, 7)
	root := metadata.Root(expires)
	root.Signed.ConsistentSnapshot = false
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	targets := metadata.Targets(expires)
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", trustedRoot, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	snapshot := metadata.Snapshot(expires)
	snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(targets.Signed.Version)
	timestamp := metadata.Timestamp(expires)
	timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(snapshot.Signed.Version)

	must := func(_ *metadata.Signature, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(root.Sign(signer))
	must(targets.Sign(signer))
	must(snapshot.Sign(signer))
	must(timestamp.Sign(signer))
	if err := os.MkdirAll(filepath.Join(repo, "targets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, write := range map[string]func(string, bool) error{
		"1.root.json": root.ToFile, "root.json": root.ToFile, "targets.json": targets.ToFile,
		"snapshot.json": snapshot.ToFile, "timestamp.json": timestamp.ToFile,
	} {
		if err := write(filepath.Join(repo, file), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "targets", "trusted_root.json"), trustedRoot, 0o644); err != nil {
		t.Fatal(err)
	}
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
