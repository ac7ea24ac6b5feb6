// Package buildrecord is the build's output format: build.json (the
// record later stages and the provenance read) beside the OCI layout
// holding the image index.
package buildrecord

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/layer"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/pyenv"
)

// Schema identifies the build record format (docs/build-record.md).
const Schema = "https://github.com/harden-dev/harden/blob/main/docs/build-record.md#v1"

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
	// Layering is how the wheels were laid into layers; a rebuild
	// replays it. Records of the first format have none.
	Layering *Layering `json:"layering,omitempty"`
	// StartedOn and FinishedOn are wall-clock times of the build run, for
	// provenance. They are not part of the image.
	StartedOn  time.Time `json:"startedOn"`
	FinishedOn time.Time `json:"finishedOn"`
}

// Layering is the layer format of a build.
type Layering struct {
	// Format 1: user and wheel layers, compress/gzip, every mtime
	// SOURCE_DATE_EPOCH. Format 2: a layer of its own for each large
	// wheel, parallel gzip, wheel layers' mtimes fixed at WheelMtime so
	// an unchanged wheel gives an unchanged layer.
	Format              int               `json:"format"`
	Compression         layer.Compression `json:"compression"`
	WheelLayerThreshold int64             `json:"wheelLayerThreshold,omitempty"`
	MaxWheelLayers      int               `json:"maxWheelLayers,omitempty"`
}

// The layer formats.
const (
	FirstFormat   = 1
	CurrentFormat = 2
)

// WheelMtime is the mtime of every entry of a format-2 wheel layer: the
// earliest time a zip (and so a wheel) can carry.
var WheelMtime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// FirstLayering is what a record or provenance without layering means.
func FirstLayering() Layering { return Layering{Format: FirstFormat, Compression: layer.Gzip} }

// Check refuses a layering this harden cannot reproduce.
func (l Layering) Check() error {
	switch l.Format {
	case FirstFormat, CurrentFormat:
	default:
		return fmt.Errorf("layer format %d is unknown to this harden (it knows 1 and 2); use the harden that made the build", l.Format)
	}
	if l.MaxWheelLayers < 0 || l.WheelLayerThreshold < 0 {
		return fmt.Errorf("layer format %d: negative wheel layer settings", l.Format)
	}
	return l.Compression.Check()
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
	// Upstream is what harden lock verified of the file's PEP 740
	// attestations; nil when the lock records nothing for it.
	Upstream *Upstream `json:"upstream,omitempty"`
}

// Upstream is a wheel's upstream provenance as the lock records it.
type Upstream struct {
	// Attested is false when the index offered no attestation.
	Attested       bool           `json:"attested"`
	Publisher      lock.Publisher `json:"publisher,omitzero"`
	LogIndex       int64          `json:"logIndex,omitempty"`
	IntegratedTime time.Time      `json:"integratedTime,omitzero"`
	Timestamp      time.Time      `json:"timestamp,omitzero"`
	// Index is the simple index the build took the file from, where its
	// provenance is served; "" for a wheel directory.
	Index string `json:"index,omitempty"`
}

// UpstreamOf returns the lock's record of the file with sha256 hex digest
// sum in r, or nil when it has none.
func UpstreamOf(r lock.Requirement, sum string) *Upstream {
	fp, ok := r.ProvenanceOf(sum)
	if !ok {
		return nil
	}
	u := &Upstream{Attested: fp.Attested}
	if fp.Attested {
		u.Publisher, u.LogIndex = fp.Publisher, fp.LogIndex
		u.IntegratedTime, u.Timestamp = fp.IntegratedTime.UTC(), fp.Timestamp.UTC()
	}
	return u
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
	if r.SchemaVersion != Schema {
		return nil, fmt.Errorf("%s: unknown build record schema %q; rebuild with this harden", path, r.SchemaVersion)
	}
	return &r, nil
}
