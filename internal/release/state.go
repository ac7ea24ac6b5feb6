package release

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/project"
)

// bindState makes the state describe a release to repo: the registry
// facts of a release to another repository do not carry over (the build
// and its smoke test do).
func bindState(s *dist.State, repo string) {
	if s.Repository != repo {
		s.Published, s.Signed, s.Attested, s.Verified = "", false, false, false
		s.Repository = repo
	}
}

func (r *run) saveState() error { return r.out.WriteState(r.state) }

// fingerprint hashes every input of the build: config, lock and
// requirements bytes, the epoch, the wheel source and harden's version.
// The same fingerprint gives the same image digest.
func fingerprint(pr *project.Project, epoch int64, hardenVersion, wheelDir, indexURL string) (string, error) {
	h := sha256.New()
	for _, p := range []string{pr.Config.Path, pr.Config.Resolve(pr.Config.Lock), pr.Config.Resolve(pr.Config.Requirements)} {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", errs.Input(fmt.Errorf("read %s: %w", p, err))
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(b))
		h.Write(b)
	}
	for _, s := range []string{strconv.FormatInt(epoch, 10), hardenVersion, wheelDir, indexURL, pr.Git.Commit, strconv.FormatBool(pr.Git.Dirty)} {
		fmt.Fprintf(h, "%d\x00%s", len(s), s)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
