package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/project"
)

// StateFile is where a release records its progress, inside --out.
const StateFile = "release-state.json"

// StateSchema versions the state file.
const StateSchema = "harden.release-state/v1"

// State is what earlier runs finished. It is a hint, never proof: every
// stage re-checks the registry or the files before it skips.
type State struct {
	Schema string `json:"schema"`
	Inputs string `json:"inputs"` // fingerprint of the build inputs
	// Repository is where Published, Signed, Attested and Verified
	// happened; a release to another repository starts those afresh.
	Repository string `json:"repository,omitempty"`
	Digest     string `json:"digest,omitempty"` // index built from them
	Tested     bool   `json:"tested,omitempty"`
	Published  string `json:"published,omitempty"` // repo@sha256
	Signed     bool   `json:"signed,omitempty"`
	Attested   bool   `json:"attested,omitempty"`
	Verified   bool   `json:"verified,omitempty"`
}

// ReadState loads the state file; a missing file is an empty state.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Schema: StateSchema}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil || s.Schema != StateSchema {
		return nil, errs.Input(fmt.Errorf("%s is not a release state file of this harden; delete it to start the release afresh", path))
	}
	return &s, nil
}

// bind makes the state describe a release to repo: the registry facts of
// a release to another repository do not carry over (the build and its
// smoke test do).
func (s *State) bind(repo string) {
	if s.Repository != repo {
		s.Published, s.Signed, s.Attested, s.Verified = "", false, false, false
		s.Repository = repo
	}
}

func (r *run) saveState() error {
	b, err := json.MarshalIndent(r.state, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.o.Out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", r.o.Out, err)
	}
	return fsutil.WriteFileAtomic(filepath.Join(r.o.Out, StateFile), append(b, '\n'), 0o644)
}

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
