package scaffold

import (
	"context"

	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/resolve"
)

// ResolveLocker locks as harden lock does (resolve.Run), without writing.
type ResolveLocker struct {
	Registry *registry.Client
	WheelDir string // offline wheels; wins over IndexURL
	IndexURL string // "" is the config's index
	CacheDir string
	Log      func(format string, args ...any)
}

// Lock resolves the requirements of the harden.yaml at configPath.
func (l ResolveLocker) Lock(ctx context.Context, configPath string) (string, error) {
	rep, err := resolve.Run(ctx, resolve.Params{ConfigPath: configPath, WheelDir: l.WheelDir, IndexURL: l.IndexURL,
		CacheDir: l.CacheDir, DryRun: true, Registry: l.Registry, Log: l.Log})
	if err != nil {
		return "", err
	}
	return rep.Lock, nil
}
