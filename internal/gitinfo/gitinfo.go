// Package gitinfo reads the source facts a build records: the commit, its
// time (the default SOURCE_DATE_EPOCH) and the remote URL.
package gitinfo

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Info describes the source checkout a build came from. Fields are empty
// when the directory is not a git checkout.
type Info struct {
	// Repo is the top of the work tree dir is in ("" outside git); a
	// repository without commits has Repo set and Commit empty.
	Repo       string
	Commit     string
	CommitTime time.Time
	RemoteURL  string
	Dirty      bool
}

// Read returns what git knows about dir. A directory outside any checkout,
// or a machine without git, yields an empty Info and no error.
func Read(ctx context.Context, dir string) (Info, error) {
	var info Info
	if top, err := git(ctx, dir, "rev-parse", "--show-toplevel"); err == nil {
		info.Repo = top
	}
	commit, err := git(ctx, dir, "rev-parse", "--verify", "-q", "HEAD")
	if err != nil {
		return info, nil
	}
	info.Commit = commit
	ct, err := git(ctx, dir, "log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return info, fmt.Errorf("read commit time of %s: %w", commit, err)
	}
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return info, fmt.Errorf("parse commit time %q: %w", ct, err)
	}
	info.CommitTime = time.Unix(secs, 0).UTC()
	if u, err := git(ctx, dir, "config", "--get", "remote.origin.url"); err == nil {
		info.RemoteURL = RedactURL(u)
	}
	if st, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no"); err == nil {
		info.Dirty = st != ""
	}
	return info, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// RedactURL drops credentials from a remote URL: it ends up in image
// labels and provenance, and CI checkouts often embed a token in it.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return raw // scp-like "git@host:org/repo.git" carries no secret
	}
	u.User = nil
	return u.String()
}

// Epoch returns the build time: SOURCE_DATE_EPOCH when set (value is the
// content of that variable, "" when unset), else the commit time.
func Epoch(sourceDateEpoch string, info Info) (time.Time, error) {
	if sourceDateEpoch != "" {
		secs, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
		if err != nil || secs < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a non-negative number of seconds; set it to e.g. $(git log -1 --format=%%ct)", sourceDateEpoch)
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	if !info.CommitTime.IsZero() {
		return info.CommitTime, nil
	}
	// The suggestion is a fixed number, not $(date +%s): exported once,
	// it makes every rebuild reproduce this one.
	export := fmt.Sprintf("export SOURCE_DATE_EPOCH=%d", time.Now().Unix())
	if info.Repo != "" {
		return time.Time{}, fmt.Errorf("no build time: SOURCE_DATE_EPOCH is unset and the git repository %s has no commits yet, so there is no commit time to default to; commit, or fix the time for reproducible builds with:\n  %s", info.Repo, export)
	}
	return time.Time{}, fmt.Errorf("no build time: SOURCE_DATE_EPOCH is unset and the config is not in a git checkout, so there is no commit time to default to; fix the time for reproducible builds with:\n  %s", export)
}
