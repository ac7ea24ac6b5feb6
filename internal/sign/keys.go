package sign

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
)

// PasswordEnv holds the key password, as cosign reads it.
const PasswordEnv = "COSIGN_PASSWORD"

// KeyPair names the files harden keygen writes.
type KeyPair struct {
	Private string `json:"privateKey"`
	Public  string `json:"publicKey"`
}

// GenerateKey writes <prefix>.key (encrypted with password, mode 0600)
// and <prefix>.pub in cosign's format. It refuses to overwrite either.
func GenerateKey(prefix string, password []byte) (*KeyPair, error) {
	kp := &KeyPair{Private: prefix + ".key", Public: prefix + ".pub"}
	for _, p := range []string{kp.Private, kp.Public} {
		if _, err := os.Stat(p); err == nil {
			return nil, errs.Input(fmt.Errorf("%s already exists; move it away or choose another --output-key-prefix", p))
		}
	}
	if err := os.MkdirAll(filepath.Dir(kp.Private), 0o755); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return nil, fmt.Errorf("generate key pair: %w", err)
	}
	if err := fsutil.WriteFileAtomic(kp.Private, kb.PrivateBytes, 0o600); err != nil {
		return nil, fmt.Errorf("write private key: %w", err)
	}
	if err := fsutil.WriteFileAtomic(kp.Public, kb.PublicBytes, 0o644); err != nil {
		_ = os.Remove(kp.Private)
		return nil, fmt.Errorf("write public key: %w", err)
	}
	return kp, nil
}

// LoadKey decrypts a cosign-format private key. The password is never
// part of an error.
func LoadKey(path string, password []byte) (signature.SignerVerifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("read signing key: %w", err))
	}
	sv, err := cosign.LoadPrivateKey(b, password, nil)
	if err != nil {
		// cosign's errors name the failing step (PEM, decrypt, parse),
		// never key material or the password.
		return nil, errs.Input(fmt.Errorf("signing key %s: %w; check %s, or make a key with harden keygen", path, err, PasswordEnv))
	}
	return sv, nil
}
