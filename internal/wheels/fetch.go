package wheels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/wheel"
)

// Pick is the file chosen for one locked requirement on one platform.
type Pick struct {
	Req   lock.Requirement
	File  File
	Wheel wheel.Filename
}

// Select chooses, for every requirement of lf whose marker holds in env,
// the best wheel for target among the files of src whose sha256 the lock
// lists. Errors name the package and say what to change.
func Select(ctx context.Context, src Source, lf *lock.File, target wheel.Target, env lock.Env, platform string) ([]Pick, error) {
	var picks []Pick
	var problems []error
	reqs, err := lf.ForEnv(env)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("evaluate markers for %s: %w", platform, err))
	}
	for _, req := range reqs {
		p, err := selectOne(ctx, src, lf, req, target, platform)
		if err != nil {
			if errs.ExitCode(err) == errs.CodeUnreachable {
				return nil, err
			}
			problems = append(problems, err)
			continue
		}
		picks = append(picks, p)
	}
	if len(problems) > 0 {
		return nil, errs.Input(errors.Join(problems...))
	}
	return picks, nil
}

func selectOne(ctx context.Context, src Source, lf *lock.File, req lock.Requirement, target wheel.Target, platform string) (Pick, error) {
	files, err := src.Files(ctx, req.Key)
	if err != nil {
		return Pick{}, fmt.Errorf("%s==%s: list files from %s: %w", req.Name, req.Version, src, err)
	}
	allowed := map[string]bool{}
	for _, h := range req.Hashes {
		allowed[h] = true
	}
	var wheels []wheel.Filename
	byRaw := map[string]File{}
	var sdists, otherHash []string
	for _, f := range files {
		if !lock.SameVersion(fileVersion(f.Filename), req.Version) {
			continue
		}
		if !allowed[f.SHA256] {
			otherHash = append(otherHash, fmt.Sprintf("%s (sha256:%s)", f.Filename, f.SHA256))
			continue
		}
		wf, err := wheel.ParseFilename(f.Filename)
		if err != nil {
			sdists = append(sdists, f.Filename)
			continue
		}
		wheels = append(wheels, wf)
		byRaw[wf.Raw] = f
	}
	where := fmt.Sprintf("%s:%d", lf.Path, req.Line)
	switch {
	case len(wheels) == 0 && len(sdists) > 0:
		return Pick{}, fmt.Errorf("%s: %s==%s is locked only to an sdist (%s); harden installs wheels only: lock a wheel of it or build one and publish it to your index", where, req.Name, req.Version, strings.Join(sdists, ", "))
	case len(wheels) == 0 && len(otherHash) > 0:
		return Pick{}, fmt.Errorf("%s: hash mismatch for %s==%s: %s offers %s, but the lock allows only sha256:%s; the file changed upstream or the lock is stale: review it, then re-lock", where, req.Name, req.Version, src, strings.Join(otherHash, ", "), strings.Join(req.Hashes, ", sha256:"))
	case len(wheels) == 0:
		return Pick{}, fmt.Errorf("%s: %s==%s: no file with a locked hash in %s; fetch the wheels into the wheel dir or point --index-url at an index that has them", where, req.Name, req.Version, src)
	}
	best, ok := target.Select(wheels)
	if !ok {
		var names []string
		for _, w := range wheels {
			names = append(names, w.Raw)
		}
		sort.Strings(names)
		return Pick{}, fmt.Errorf("%s: %s==%s has no wheel for %s (cp%d%d, glibc %d.%d, %s); locked wheels: %s; add a matching wheel hash to the lock or drop %s from platforms", where, req.Name, req.Version, platform, target.PythonMajor, target.PythonMinor, target.GlibcMajor, target.GlibcMinor, target.Arch, strings.Join(names, ", "), platform)
	}
	return Pick{Req: req, File: byRaw[best.Raw], Wheel: best}, nil
}

func fileVersion(filename string) string {
	if fn, err := wheel.ParseFilename(filename); err == nil {
		return fn.Version
	}
	if _, v, ok := wheel.SplitSdist(filename); ok {
		return v
	}
	return ""
}

// Cache stores files by sha256 under dir/sha256/<xx>/<hex>.
type Cache struct{ dir string }

// NewCache returns a cache rooted at dir; "" means the user cache dir.
func NewCache(dir string) (*Cache, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("find a cache directory: %w; pass --cache-dir", err)
		}
		dir = filepath.Join(base, "harden", "wheels")
	}
	return &Cache{dir: dir}, nil
}

func (c *Cache) path(sum string) string { return filepath.Join(c.dir, "sha256", sum[:2], sum) }

// Fetch returns the bytes of f, which must hash to want. It serves from
// the cache when possible (re-hashing what it reads) and otherwise
// downloads from src, verifies, and stores atomically.
func (c *Cache) Fetch(ctx context.Context, src Source, f File, want string) ([]byte, error) {
	if len(want) != 64 {
		return nil, fmt.Errorf("%s: bad expected sha256 %q", f.Filename, want)
	}
	p := c.path(want)
	if b, err := os.ReadFile(p); err == nil {
		if sum256(b) == want {
			return b, nil
		}
		_ = os.Remove(p) // corrupt cache entry: fetch again
	}
	rc, err := src.Open(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Filename, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, errs.Unreachable(fmt.Errorf("read %s: %w", f.Filename, err))
	}
	if got := sum256(b); got != want {
		return nil, errs.Input(fmt.Errorf("hash mismatch for %s from %s: got sha256:%s, the lock expects sha256:%s; refusing the file", f.Filename, src, got, want))
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("create cache dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return nil, fmt.Errorf("write cache: %w", err)
	}
	return b, nil
}

func sum256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
