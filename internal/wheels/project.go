package wheels

import (
	"net/http"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/project"
)

// ForProject is the wheel source (SourceFor) and the cache in cacheDir
// (default: the user cache) a build, a lock or a lock check reads through.
func ForProject(pr *project.Project, wheelDir, indexURL, cacheDir string, hc *http.Client) (Source, *Cache, error) {
	src, err := SourceFor(pr, wheelDir, indexURL, hc)
	if err != nil {
		return nil, nil, err
	}
	cache, err := NewCache(cacheDir)
	if err != nil {
		return nil, nil, errs.Input(err)
	}
	return src, cache, nil
}

// SourceFor picks the wheel source: --wheel-dir, else the index
// IndexURLFor names.
func SourceFor(pr *project.Project, wheelDir, indexURL string, hc *http.Client) (Source, error) {
	if wheelDir != "" {
		return NewDir(wheelDir), nil
	}
	return NewIndex(IndexURLFor(pr, wheelDir, indexURL), hc)
}

// IndexURLFor is the index wheels come from: "" with a wheel directory,
// else --index-url, else the lock's --index-url, else the config's
// index, else PyPI.
func IndexURLFor(pr *project.Project, wheelDir, indexURL string) string {
	if wheelDir != "" {
		return ""
	}
	for _, u := range []string{indexURL, pr.Lock.IndexURL, pr.Config.Index.URL} {
		if u != "" {
			return u
		}
	}
	return DefaultIndex
}
