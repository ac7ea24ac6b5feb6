package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/harden-dev/harden/internal/errs"
)

// EnvConfig names the environment variable that points at harden.yaml
// when --config is not given.
const EnvConfig = "HARDEN_CONFIG"

// SearchPaths returns the files Discover tries, in order, relative to
// the working directory, when EnvConfig is not set.
func SearchPaths() []string { return []string{"harden.yaml", DefaultPath} }

// Discover finds the image definition when --config is not given:
// $HARDEN_CONFIG if set (it must exist), else the first of
// SearchPaths() that exists under dir. getenv reads the environment (os.Getenv).
// When nothing is found the error (exit 2) lists the places searched and
// wraps an *Error whose Err is fs.ErrNotExist, so commands that can run
// without a config can tell this case apart.
func Discover(getenv func(string) string, dir string) (string, error) {
	if p := getenv(EnvConfig); p != "" {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		ok, err := isFile(p)
		if err != nil {
			return "", errs.Input(fmt.Errorf("$%s: %w", EnvConfig, err))
		}
		if !ok {
			return "", errs.Input(&Error{Path: p, Problem: fmt.Sprintf("no such file (named by $%s)", EnvConfig),
				Fix: fmt.Sprintf("point $%s at the image's harden.yaml, or unset it to search %s", EnvConfig, strings.Join(SearchPaths(), " and ")), Err: fs.ErrNotExist})
		}
		return p, nil
	}
	var searched []string
	for _, rel := range SearchPaths() {
		p := filepath.Join(dir, rel)
		ok, err := isFile(p)
		if err != nil {
			return "", errs.Input(err)
		}
		if ok {
			return p, nil
		}
		searched = append(searched, "./"+filepath.ToSlash(rel))
	}
	return "", errs.Input(&Error{
		Problem: fmt.Sprintf("no harden.yaml found: $%s is not set and neither %s exists", EnvConfig, strings.Join(searched, " nor ")),
		Fix:     `run "harden init REQUIREMENT" to create one here, or name one with --config or $` + EnvConfig,
		Err:     fs.ErrNotExist,
	})
}

// isFile reports whether p exists and is not a directory; errors other
// than "does not exist" (such as permission denied) are returned.
func isFile(p string) (bool, error) {
	info, err := os.Stat(p)
	switch {
	case err == nil:
		if info.IsDir() {
			return false, &Error{Path: p, Problem: "is a directory", Fix: "name the harden.yaml inside it"}
		}
		return true, nil
	case os.IsNotExist(err):
		return false, nil
	default:
		return false, fmt.Errorf("look for %s: %w", p, err)
	}
}
