package upstream

import (
	"errors"
	"net/http"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/sign"
)

// Settings are a command's inputs of the provenance check.
type Settings struct {
	// TrustedRoot is a Sigstore trusted_root.json (a private Sigstore);
	// "" is the public-good root, through TUF.
	TrustedRoot string
	// Offline: provenance comes from the cache alone, and the trusted
	// root from TrustedRoot (TUF is not consulted).
	Offline bool
	// CacheOnly: provenance comes from the cache alone, never an index;
	// the trusted root is still TrustedRoot or TUF's (Options.CacheOnly).
	CacheOnly bool
}

// Source is where the provenance of files from indexURL comes from: the
// index itself (kept in the cache under cacheDir), or the cache alone
// offline, cache-only or when indexURL is "" (a wheel dir).
func (s Settings) Source(indexURL, cacheDir string, hc *http.Client) (Source, error) {
	cache, err := NewCache(cacheDir)
	if err != nil {
		return nil, err
	}
	if s.Offline || s.CacheOnly || indexURL == "" {
		return cache, nil
	}
	return NewIndex(indexURL, hc, cache)
}

// Trust loads the trusted root when first called.
func (s Settings) Trust() func() (root.TrustedMaterial, error) {
	return func() (root.TrustedMaterial, error) {
		t, err := sign.LoadTrust(sign.TrustOptions{TrustedRootPath: s.TrustedRoot, Offline: s.Offline})
		if err != nil {
			return nil, err
		}
		if t.Root == nil {
			return nil, errs.Input(errors.New("no Sigstore trusted root to verify attestations against; pass --trusted-root FILE"))
		}
		return t.Root, nil
	}
}
