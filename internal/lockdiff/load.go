package lockdiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/gitinfo"
	"github.com/harden-dev/harden/internal/lock"
)

// Request names what to compare: two lock files (Old, New), or with Rev
// the lock as of that git revision against the working copy.
type Request struct {
	Old, New string
	Rev      string
	// Lock is the lock compared with Rev; "" means the lock Config names.
	Lock string
	// Config is harden.yaml. When it exists it names the default lock and
	// the requirements.in that decides which new packages are direct.
	Config string
	// Requirements overrides the requirements.in from Config.
	Requirements string
}

// Run loads the locks of req and diffs them.
func Run(ctx context.Context, req Request) (Report, error) {
	cfg, err := loadConfig(req.Config)
	if err != nil {
		return Report{}, err
	}
	var before, after *lock.File
	if req.Rev != "" {
		path := req.Lock
		if path == "" {
			if cfg == nil {
				return Report{}, errs.Input(fmt.Errorf("no lock to compare with %s: %s does not exist; name the lock: harden lock diff --git %s requirements.lock", req.Rev, req.Config, req.Rev))
			}
			path = cfg.Resolve(cfg.Lock)
		}
		if before, err = lockAt(ctx, req.Rev, path); err != nil {
			return Report{}, err
		}
		if after, err = lockFile(path); err != nil {
			return Report{}, err
		}
	} else {
		if req.Old == "" || req.New == "" {
			return Report{}, errs.Input(errors.New("name two lock files (OLD NEW), or a git revision with --git REV"))
		}
		if before, err = lockFile(req.Old); err != nil {
			return Report{}, err
		}
		if after, err = lockFile(req.New); err != nil {
			return Report{}, err
		}
	}
	in, err := input(cfg, req.Requirements)
	if err != nil {
		return Report{}, err
	}
	return Diff(before, after, in), nil
}

// loadConfig returns nil when path names no file: a diff of two locks
// needs no harden.yaml.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) && errors.Is(ce.Err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, errs.Input(err)
	}
	return cfg, nil
}

// input reads the requirements.in named by override, else by cfg; a
// configured file that does not exist yet is no error.
func input(cfg *config.Config, override string) (*lock.Input, error) {
	path := override
	if path == "" {
		if cfg == nil {
			return nil, nil
		}
		path = cfg.Resolve(cfg.Requirements)
	}
	in, err := lock.ParseInputFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && override == "":
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, errs.Input(fmt.Errorf("requirements file %s does not exist; pass the project's requirements.in to --requirements", path))
	case err != nil:
		return nil, errs.Input(err)
	}
	return in, nil
}

func lockFile(path string) (*lock.File, error) {
	lf, err := lock.ParseFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.Input(fmt.Errorf("lock file %s does not exist; name an existing requirements.lock", path))
	}
	if err != nil {
		return nil, errs.Input(err)
	}
	return lf, nil
}

func lockAt(ctx context.Context, rev, path string) (*lock.File, error) {
	b, err := gitinfo.FileAt(ctx, rev, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errs.Input(fmt.Errorf("read %s at %s: %w", path, rev, err))
	}
	lf, err := lock.Parse(bytes.NewReader(b), path+"@"+rev)
	if err != nil {
		return nil, errs.Input(err)
	}
	return lf, nil
}
