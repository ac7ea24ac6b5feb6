package gitinfo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FileAt returns the content of the file at path (a working-tree path,
// relative to the current directory or absolute) as of revision rev
// (a commit, branch, tag or expression such as HEAD~1).
func FileAt(ctx context.Context, rev, path string) ([]byte, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("git revision %q: name a commit, branch or tag, e.g. HEAD or main", rev)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", path, err)
	}
	// Resolve symlinks in the directory so the path compares with git's
	// top level, which git reports resolved. The file itself may be
	// missing from the working tree.
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s is not inside a git checkout (%w)", path, err)
	}
	if top, err = filepath.EvalSymlinks(top); err != nil {
		return nil, fmt.Errorf("resolve git top level: %w", err)
	}
	rel, err := filepath.Rel(top, filepath.Join(dir, filepath.Base(abs)))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("%s is outside the git checkout at %s", path, top)
	}
	if _, err := git(ctx, top, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		return nil, fmt.Errorf("git revision %q does not exist in %s; name a commit, branch or tag (git log shows them)", rev, top)
	}
	object := rev + ":" + filepath.ToSlash(rel)
	if _, err := git(ctx, top, "cat-file", "-e", object); err != nil {
		return nil, fmt.Errorf("%s does not exist at revision %s", filepath.ToSlash(rel), rev)
	}
	// cat-file gives the stored bytes, without the text conversion
	// "git show" may apply.
	cmd := exec.CommandContext(ctx, "git", "-C", top, "cat-file", "blob", object)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("git cat-file blob %s: %w", object, err)
	}
	return out, nil
}
