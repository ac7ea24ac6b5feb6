// Package sign makes Sigstore bundles (v0.3) for harden's signatures and
// attestations, keyless through Fulcio or with a cosign-format key, with
// transparency-log entries and RFC 3161 timestamps as the signing config
// asks. It is built on sigstore-go's sign package.
package sign

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/harden-dev/harden/internal/errs"
)

// PublicOIDCIssuer is the public-good Sigstore OIDC issuer.
const PublicOIDCIssuer = "https://oauth2.sigstore.dev/auth"

// Trust is what a signer or verifier trusts and where it signs: a trusted
// root (CAs, logs, TSAs) and, for signing, a signing config (URLs).
type Trust struct {
	Root   *root.TrustedRoot
	Config *root.SigningConfig // nil when only verifying
	Source string              // "files" or the TUF repository URL
}

// TrustOptions locate the trust material. Files win; otherwise the
// public-good TUF repository is used (cached under CacheDir).
type TrustOptions struct {
	TrustedRootPath   string
	SigningConfigPath string
	// Offline: no network. Without files, trust comes from the TUF cache
	// an earlier online load left under CacheDir, as long as its
	// metadata is unexpired; it is never refreshed.
	Offline  bool
	CacheDir string
	// TUFMirror and TUFRoot name another TUF repository than public
	// good's: its URL and the root.json first trusted for it.
	TUFMirror string
	TUFRoot   []byte
	// NeedSigningConfig is set by signers; verifiers leave it false.
	NeedSigningConfig bool
	// TUF, when set, keeps what is read from TUF repositories for the
	// next loads through it (a release loads trust at several stages);
	// nil reads the repository on every load.
	TUF *TUFReader
}

// TUFReader reads trust material from TUF repositories and keeps it, by
// repository and cache directory, so that one run consults each
// repository once per document. The zero value is ready.
type TUFReader struct {
	mu sync.Mutex
	m  map[string]tufMaterial
	// fetch replaces fetchTUF in tests.
	fetch func(topts *tuf.Options, wantRoot, wantConfig bool) (*root.TrustedRoot, *root.SigningConfig, error)
}

// LoadTrust reads the trusted root and signing config.
func LoadTrust(o TrustOptions) (*Trust, error) {
	t := &Trust{Source: "files"}
	if o.TrustedRootPath != "" {
		tr, err := root.NewTrustedRootFromPath(o.TrustedRootPath)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("trusted root %s: %w; pass a trusted_root.json (Sigstore trusted root format)", o.TrustedRootPath, err))
		}
		t.Root = tr
	}
	if o.SigningConfigPath != "" {
		sc, err := root.NewSigningConfigFromPath(o.SigningConfigPath)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("signing config %s: %w; pass a signing_config.json (Sigstore signing config v0.2)", o.SigningConfigPath, err))
		}
		t.Config = sc
	}
	needTUF := t.Root == nil || (o.NeedSigningConfig && t.Config == nil)
	if !needTUF {
		return t, nil
	}
	topts := tuf.DefaultOptions()
	if o.TUFMirror != "" {
		topts.RepositoryBaseURL, topts.Root = o.TUFMirror, o.TUFRoot
	}
	if o.CacheDir != "" {
		topts.CachePath = filepath.Join(o.CacheDir, "tuf")
	} else if d, err := os.UserCacheDir(); err == nil {
		topts.CachePath = filepath.Join(d, "harden", "tuf")
	}
	if o.Offline {
		topts.ForceCache = true
		topts.Fetcher = noNetwork{}
	}
	tr := o.TUF
	if tr == nil {
		tr = &TUFReader{}
	}
	mat, err := tr.read(topts, t.Root == nil, o.NeedSigningConfig && t.Config == nil)
	if err != nil {
		if o.Offline {
			missing := "--trusted-root"
			if t.Root != nil {
				missing = "--signing-config"
			}
			return nil, errs.Input(fmt.Errorf("offline: the TUF cache in %s holds no unexpired trust material; run once with the network to fill it, or pass %s FILE: %w", topts.CachePath, missing, err))
		}
		return nil, errs.Unreachable(fmt.Errorf("%w; for a private or offline deployment pass --trusted-root and --signing-config", err))
	}
	t.Source = topts.RepositoryBaseURL
	if t.Root == nil {
		t.Root = mat.root
	}
	if o.NeedSigningConfig && t.Config == nil {
		t.Config = mat.config
	}
	if t.Root == nil {
		return nil, errors.New("no trusted root")
	}
	return t, nil
}

// read returns what the repository topts names holds, reading what is
// wanted and not yet kept.
func (r *TUFReader) read(topts *tuf.Options, wantRoot, wantConfig bool) (tufMaterial, error) {
	key := topts.RepositoryBaseURL + "\x00" + topts.CachePath
	r.mu.Lock()
	defer r.mu.Unlock()
	mat := r.m[key]
	needRoot, needConfig := wantRoot && mat.root == nil, wantConfig && mat.config == nil
	if !needRoot && !needConfig {
		return mat, nil
	}
	fetch := r.fetch
	if fetch == nil {
		fetch = fetchTUF
	}
	tr, sc, err := fetch(topts, needRoot, needConfig)
	if err != nil {
		return tufMaterial{}, err
	}
	if tr != nil {
		mat.root = tr
	}
	if sc != nil {
		mat.config = sc
	}
	if r.m == nil {
		r.m = map[string]tufMaterial{}
	}
	r.m[key] = mat
	return mat, nil
}

// noNetwork is the TUF fetcher of an offline load: any download, which
// the cache would have spared, fails.
type noNetwork struct{}

func (noNetwork) DownloadFile(u string, _ int64, _ time.Duration) ([]byte, error) {
	return nil, fmt.Errorf("offline: %s is not in the TUF cache", u)
}

type tufMaterial struct {
	root   *root.TrustedRoot
	config *root.SigningConfig
}

// fetchTUF reads the trusted root and the signing config, as asked, from
// the TUF repository topts names, refreshing its metadata.
func fetchTUF(topts *tuf.Options, wantRoot, wantConfig bool) (*root.TrustedRoot, *root.SigningConfig, error) {
	client, err := tuf.New(topts)
	if err != nil {
		return nil, nil, fmt.Errorf("Sigstore TUF repository %s: %w", topts.RepositoryBaseURL, err)
	}
	var tr *root.TrustedRoot
	var sc *root.SigningConfig
	if wantRoot {
		if tr, err = root.GetTrustedRoot(client); err != nil {
			return nil, nil, fmt.Errorf("trusted root from TUF repository %s: %w", topts.RepositoryBaseURL, err)
		}
	}
	if wantConfig {
		if sc, err = root.GetSigningConfig(client); err != nil {
			return nil, nil, fmt.Errorf("signing config from TUF repository %s: %w", topts.RepositoryBaseURL, err)
		}
	}
	return tr, sc, nil
}
