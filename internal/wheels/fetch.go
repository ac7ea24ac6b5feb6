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

// Open returns f's file, which must hash to want, open for reading; the
// caller closes it. A file of a local wheel directory is read in place;
// others come from the cache (re-hashed on every open) or are downloaded
// into it, verified, and stored atomically. Nothing is held in memory:
// wheels of several GiB are common in machine-learning images.
func (c *Cache) Open(ctx context.Context, src Source, f File, want string) (*os.File, error) {
	if len(want) != 64 {
		return nil, fmt.Errorf("%s: bad expected sha256 %q", f.Filename, want)
	}
	if d, ok := src.(*Dir); ok {
		fh, err := os.Open(d.file(f))
		if err != nil {
			return nil, errs.Input(fmt.Errorf("open %s: %w", f.Filename, err))
		}
		if err := checkFile(fh, want, f.Filename, src); err != nil {
			fh.Close()
			return nil, err
		}
		return fh, nil
	}
	p := c.path(want)
	if fh, err := os.Open(p); err == nil {
		if checkFile(fh, want, f.Filename, src) == nil {
			return fh, nil
		}
		fh.Close()
		_ = os.Remove(p) // corrupt cache entry: fetch again
	}
	rc, err := src.Open(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Filename, err)
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("create cache dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write cache: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	got, err := spool(tmp, rc, f.Filename, src)
	if err != nil {
		return nil, err
	}
	if got != want {
		return nil, errs.Input(fmt.Errorf("hash mismatch for %s from %s: got sha256:%s, the lock expects sha256:%s; refusing the file", f.Filename, src, got, want))
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("write cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return nil, fmt.Errorf("write cache: %w", err)
	}
	keep = true
	return tmp, nil
}

// spool copies a download of at most maxWheelSize bytes to w and returns
// its sha256 (hex).
func spool(w io.Writer, r io.Reader, name string, src Source) (string, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, maxWheelSize+1))
	if err != nil {
		return "", errs.Unreachable(fmt.Errorf("read %s: %w", name, err))
	}
	if n > maxWheelSize {
		return "", errs.Input(fmt.Errorf("%s from %s is larger than %d GiB; refusing it", name, src, maxWheelSize>>30))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkFile hashes an open file through its descriptor, so what was
// checked is what is read later.
func checkFile(fh *os.File, want, name string, src Source) error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(fh, 0, 1<<62)); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return errs.Input(fmt.Errorf("hash mismatch for %s from %s: got sha256:%s, the lock expects sha256:%s; refusing the file", name, src, got, want))
	}
	return nil
}

// Size is the size of an open file.
func Size(fh *os.File) (int64, error) {
	fi, err := fh.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func sum256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
