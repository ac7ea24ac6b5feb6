package dist

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
)

// StateSchema versions the release state file.
const StateSchema = "harden.release-state/v1"

// State is what earlier runs of harden release finished. It is a hint,
// never proof: every stage re-checks the registry or the files before it
// skips.
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
func (d Dir) ReadState() (*State, error) {
	b, err := os.ReadFile(d.State())
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Schema: StateSchema}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil || s.Schema != StateSchema {
		return nil, errs.Input(fmt.Errorf("%s is not a release state file of this harden; delete it to start the release afresh", d.State()))
	}
	return &s, nil
}

// WriteState saves the state file, atomically.
func (d Dir) WriteState(s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", d, err)
	}
	return fsutil.WriteFileAtomic(d.State(), append(b, '\n'), 0o644)
}
