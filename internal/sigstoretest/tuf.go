package sigstoretest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TUFRepo is a TUF repository on disk, served as files, with one key for
// every role, as the TUF clients of Sigstore read trust material from.
// Its files are named for clients with and without consistent snapshots.
type TUFRepo struct {
	Dir       string
	signer    signature.Signer
	root      *metadata.Metadata[metadata.RootType]
	timestamp *metadata.Metadata[metadata.TimestampType]
}

// NewTUFRepo writes a repository whose targets are targets (by name),
// valid for a week. consistent sets the root's consistent_snapshot.
func NewTUFRepo(t testing.TB, targets map[string][]byte, consistent bool) *TUFRepo {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadSigner(priv, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	key, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	week := time.Now().AddDate(0, 0, 7).UTC()
	r := &TUFRepo{Dir: t.TempDir(), signer: signer, root: metadata.Root(week), timestamp: metadata.Timestamp(week)}
	r.root.Signed.ConsistentSnapshot = consistent
	for _, role := range metadata.TOP_LEVEL_ROLE_NAMES {
		if err := r.root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(r.Dir, "targets"), 0o755); err != nil {
		t.Fatal(err)
	}
	tm := metadata.Targets(week)
	for name, b := range targets {
		for _, file := range []string{name, fmt.Sprintf("%x.%s", sha256.Sum256(b), name)} {
			if err := os.WriteFile(filepath.Join(r.Dir, "targets", file), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tf, err := metadata.TargetFile().FromBytes(name, b, "sha256")
		if err != nil {
			t.Fatal(err)
		}
		tm.Signed.Targets[name] = tf
	}
	snapshot := metadata.Snapshot(week)
	snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(tm.Signed.Version)
	r.timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(snapshot.Signed.Version)
	for _, m := range []interface {
		Sign(signature.Signer) (*metadata.Signature, error)
	}{r.root, tm, snapshot} {
		if _, err := m.Sign(signer); err != nil {
			t.Fatal(err)
		}
	}
	for file, write := range map[string]func(string, bool) error{
		"1.root.json": r.root.ToFile, "root.json": r.root.ToFile,
		"1.targets.json": tm.ToFile, "targets.json": tm.ToFile,
		"1.snapshot.json": snapshot.ToFile, "snapshot.json": snapshot.ToFile,
	} {
		if err := write(filepath.Join(r.Dir, file), false); err != nil {
			t.Fatal(err)
		}
	}
	r.WriteTimestamp(t, filepath.Join(r.Dir, "timestamp.json"), 0, week)
	return r
}

// RootJSON is the repository's root.json, a client's first trust.
func (r *TUFRepo) RootJSON(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir, "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteTimestamp signs a timestamp.json, its version raised by bump,
// that expires at exp, to path (the repository's or a client cache's).
func (r *TUFRepo) WriteTimestamp(t testing.TB, path string, bump int64, exp time.Time) {
	t.Helper()
	r.timestamp.Signed.Version += bump
	r.timestamp.Signed.Expires = exp
	r.timestamp.ClearSignatures()
	if _, err := r.timestamp.Sign(r.signer); err != nil {
		t.Fatal(err)
	}
	if err := r.timestamp.ToFile(path, false); err != nil {
		t.Fatal(err)
	}
}
