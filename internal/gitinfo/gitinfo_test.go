package gitinfo

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestEpoch(t *testing.T) {
	commit := Info{CommitTime: time.Unix(1600000000, 0).UTC()}
	if got, err := Epoch("1700000000", commit); err != nil || got.Unix() != 1700000000 {
		t.Errorf("SOURCE_DATE_EPOCH wins: %v %v", got, err)
	}
	if got, err := Epoch("", commit); err != nil || got.Unix() != 1600000000 {
		t.Errorf("commit time fallback: %v %v", got, err)
	}
	for _, bad := range []string{"yesterday", "-5", "1.5"} {
		if _, err := Epoch(bad, commit); err == nil {
			t.Errorf("SOURCE_DATE_EPOCH=%q accepted", bad)
		}
	}
	export := regexp.MustCompile(`\n  export SOURCE_DATE_EPOCH=[0-9]{10}$`)
	for _, tc := range []struct {
		info Info
		want string
	}{
		{Info{}, "not in a git checkout"},
		{Info{Repo: "/src/app"}, "the git repository /src/app has no commits yet"},
	} {
		_, err := Epoch("", tc.info)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !export.MatchString(err.Error()) {
			t.Errorf("%+v: %v; want %q and an export line", tc.info, err, tc.want)
		}
	}
}

func TestRead(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	if info, err := Read(context.Background(), dir); err != nil || info.Commit != "" || info.Repo != "" {
		t.Fatalf("outside a checkout: %+v %v", info, err)
	}
	env := []string{"GIT_AUTHOR_DATE=@1650000000 +0000", "GIT_COMMITTER_DATE=@1650000000 +0000",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test"}
	gitDo := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(cmd.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	gitDo("init", "-q")
	if info, err := Read(context.Background(), dir); err != nil || info.Commit != "" || info.Repo == "" {
		t.Fatalf("a repository without commits: %+v %v", info, err)
	}
	gitDo("remote", "add", "origin", "https://ci:token@example.test/r.git")
	gitDo("commit", "-q", "--allow-empty", "-m", "x")
	info, err := Read(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Commit) != 40 || info.CommitTime.Unix() != 1650000000 || info.RemoteURL != "https://example.test/r.git" || info.Dirty {
		t.Errorf("got %+v", info)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://x-access-token:ghs_secret@github.com/org/repo.git": "https://github.com/org/repo.git",
		"https://gitlab-ci-token:glcbt-1@gitlab.com/g/p.git":        "https://gitlab.com/g/p.git",
		"https://github.com/org/repo":                               "https://github.com/org/repo",
		"git@github.com:org/repo.git":                               "git@github.com:org/repo.git",
		"ssh://git@host/org/repo.git":                               "ssh://host/org/repo.git",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
