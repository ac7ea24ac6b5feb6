package upstream

import (
	"context"
	"errors"
	"net/http"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/sign"
)

// Settings are a command's inputs of the provenance check.
type Settings struct {
	// TrustedRoot is a Sigstore trusted_root.json (a private Sigstore);
	// "" is the public-good root, through TUF.
	TrustedRoot string
	// Offline: provenance comes from the cache alone, and the trusted
	// root from TrustedRoot or the TUF cache, never refreshed.
	Offline bool
	// CacheOnly: provenance comes from the cache alone, never an index;
	// the trusted root is still TrustedRoot or TUF's (Options.CacheOnly).
	CacheOnly bool
	// TUF keeps what TUF repositories gave for later loads; nil: none.
	TUF *sign.TUFReader
}

// ForLock are the settings of a build's (or a release's) check of the
// provenance lf records: nil when it records none (a lock made from a
// wheel directory, or before these checks), as there is nothing to hold
// the files to. cacheOnly never asks an index.
func ForLock(lf *lock.File, trustedRoot string, cacheOnly bool) *Settings {
	for _, r := range lf.Requirements {
		if len(r.Provenance) > 0 {
			return &Settings{TrustedRoot: trustedRoot, CacheOnly: cacheOnly}
		}
	}
	return nil
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
		t, err := sign.LoadTrust(sign.TrustOptions{TrustedRootPath: s.TrustedRoot, Offline: s.Offline, TUF: s.TUF})
		if err != nil {
			return nil, err
		}
		if t.Root == nil {
			return nil, errs.Input(errors.New("no Sigstore trusted root to verify attestations against; pass --trusted-root FILE"))
		}
		return t.Root, nil
	}
}

// Check verifies the attestations of pins, files of the lock lf, under
// the upstream: policy of c, with the publishers lf records pinned
// (Options.Checking). indexURL is "" when the files come from a wheel
// directory: the cache alone is asked then.
func (s Settings) Check(ctx context.Context, pins []Pin, lf *lock.File, c *config.Config, indexURL, cacheDir string, hc *http.Client) (*Report, error) {
	src, err := s.Source(indexURL, cacheDir, hc)
	if err != nil {
		return nil, err
	}
	return Check(ctx, pins, Options{Source: src, Trust: s.Trust(), Policy: PolicyOf(c),
		Previous: lf, Checking: true, CacheOnly: s.CacheOnly})
}
