// Package project loads what every command starts from: harden.yaml, the
// lock it names and the top-level requirements.
package project

import (
	"context"
	"fmt"
	"os"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/gitinfo"
	"github.com/harden-dev/harden/internal/lock"
)

// Project is a loaded image definition.
type Project struct {
	Config *config.Config
	Lock   *lock.File
	Input  *lock.Input
	Git    gitinfo.Info
}

// Load reads the config at path and the files it names. lockOverride,
// when set, replaces the configured lock path.
func Load(ctx context.Context, path, lockOverride string) (*Project, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, errs.Input(err)
	}
	lockPath := cfg.Resolve(cfg.Lock)
	if lockOverride != "" {
		lockPath = lockOverride
	}
	lf, err := lock.ParseFile(lockPath)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, errs.Input(fmt.Errorf("lock file %s does not exist; generate it with \"harden lock\" or set lock: in %s", lockPath, cfg.Path))
		}
		return nil, errs.Input(err)
	}
	inPath := cfg.Resolve(cfg.Requirements)
	in, err := lock.ParseInputFile(inPath)
	if os.IsNotExist(err) {
		return nil, errs.Input(fmt.Errorf("requirements file %s does not exist; create it with the top-level requirements (one per line, e.g. <project>==<version>) or fix requirements: in %s", inPath, cfg.Path))
	}
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%w (requirements: in %s)", err, cfg.Path))
	}
	git, err := gitinfo.Read(ctx, cfg.Dir)
	if err != nil {
		return nil, err
	}
	return &Project{Config: cfg, Lock: lf, Input: in, Git: git}, nil
}
