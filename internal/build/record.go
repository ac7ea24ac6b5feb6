package build

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/pyenv"
)

// RecordSchema identifies the build record format (docs/build-record.md).
const RecordSchema = "https://github.com/harden-dev/harden/blob/main/docs/build-record.md#v1"

// Record is everything later stages need to know about a build: digests,
// inputs and the exact wheel files. It is written as build.json beside
// the OCI layout.
type Record struct {
	SchemaVersion   string           `json:"schemaVersion"`
	Name            string           `json:"name"`
	Version         string           `json:"version"`
	Digest          string           `json:"digest"` // index digest
	Platforms       []PlatformRecord `json:"platforms"`
	Base            BaseRecord       `json:"base"`
	Lock            LockRecord       `json:"lock"`
	Source          SourceRecord     `json:"source"`
	SourceDateEpoch int64            `json:"sourceDateEpoch"`
	// Requirements are the normalised names of the top-level
	// requirements (requirements.in); their wheels are marked REQUESTED.
	Requirements []string `json:"requirements,omitempty"`
	// StartedOn and FinishedOn are wall-clock times of the build run, for
	// provenance. They are not part of the image.
	StartedOn  time.Time `json:"startedOn"`
	FinishedOn time.Time `json:"finishedOn"`
}

// PlatformRecord describes one platform manifest.
type PlatformRecord struct {
	Platform   string        `json:"platform"`
	Digest     string        `json:"digest"`
	BaseDigest string        `json:"baseDigest"`
	Python     pyenv.Env     `json:"python"`
	Wheels     []WheelRecord `json:"wheels"`
	// AppLayers are the diff IDs of the layers harden added on top of
	// the base (user, then wheels). Everything else came from the base.
	AppLayers []string `json:"appLayers"`
}

// WheelRecord is one installed wheel file.
type WheelRecord struct {
	Name     string `json:"name"` // normalised project name
	Version  string `json:"version"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	URL      string `json:"url"`
}

// BaseRecord is the pinned base image.
type BaseRecord struct {
	Name   string `json:"name"`   // as configured, without digest
	Digest string `json:"digest"` // the pinned (index) digest
	Ref    string `json:"ref"`    // fully qualified repo@digest
}

// LockRecord identifies the lock file.
type LockRecord struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
}

// SourceRecord is the source the image was built from.
type SourceRecord struct {
	URL      string `json:"url,omitempty"`
	Revision string `json:"revision,omitempty"`
}

// WriteRecord writes rec as indented JSON, atomically.
func WriteRecord(path string, rec *Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// ReadRecord reads a build.json.
func ReadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read build record: %w; run harden build first", err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a harden build record: %w", path, err)
	}
	if r.SchemaVersion != RecordSchema {
		return nil, fmt.Errorf("%s: unknown build record schema %q; rebuild with this harden", path, r.SchemaVersion)
	}
	return &r, nil
}
