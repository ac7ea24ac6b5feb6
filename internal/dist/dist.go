// Package dist owns harden's output directory (dist/ by default): the
// name of every file and directory in it, and the reading and writing of
// what the stages hand each other there. No other package builds a path
// inside it.
//
//	dist/
//	  oci/                     OCI image layout with the built index
//	  build.json               the build record (buildrecord)
//	  sbom/<platform>.spdx.json, sbom/<platform>.cdx.json
//	  scan/<platform>.vuln.json
//	  release.json, release.md the release record and its summary
//	  release-state.json       harden release's progress
//	  cosign.pub               the public key of a key-signed release
package dist

import (
	"fmt"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
)

// Default is the output directory when none is given.
const Default = "dist"

// Names inside the output directory.
const (
	LayoutDir   = "oci"
	BuildFile   = "build.json"
	SBOMDir     = "sbom"
	ScanDir     = "scan"
	ReleaseFile = "release.json"
	SummaryFile = "release.md"
	StateFile   = "release-state.json"
	PublicKey   = "cosign.pub"
)

// Dir is an output directory.
type Dir string

func (d Dir) String() string { return string(d) }

// Path joins a name from this package (or a relative path a record
// holds) to the directory.
func (d Dir) Path(rel string) string { return filepath.Join(string(d), rel) }

// Layout is the OCI image layout's directory.
func (d Dir) Layout() string { return d.Path(LayoutDir) }

// BuildRecord is build.json.
func (d Dir) BuildRecord() string { return d.Path(BuildFile) }

// Release is release.json.
func (d Dir) Release() string { return d.Path(ReleaseFile) }

// Summary is release.md.
func (d Dir) Summary() string { return d.Path(SummaryFile) }

// State is release-state.json.
func (d Dir) State() string { return d.Path(StateFile) }

// PublicKey is cosign.pub.
func (d Dir) PublicKey() string { return d.Path(PublicKey) }

// SBOMs is the directory of the SBOM files.
func (d Dir) SBOMs() string { return d.Path(SBOMDir) }

// Scans is the directory of the scan reports.
func (d Dir) Scans() string { return d.Path(ScanDir) }

// platformFile turns "linux/arm64/v8" into "linux-arm64-v8".
func platformFile(platform string) string { return strings.ReplaceAll(platform, "/", "-") }

// Build opens the build output: the index the record names, and the
// record. The two must agree on the digest.
func (d Dir) Build() (v1.ImageIndex, *buildrecord.Record, error) {
	rec, err := buildrecord.ReadRecord(d.BuildRecord())
	if err != nil {
		return nil, nil, errs.Input(err)
	}
	p, err := layout.FromPath(d.Layout())
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("open OCI layout in %s: %w; run harden build first", d, err))
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("read %s: %w", d, err))
	}
	h, err := v1.NewHash(rec.Digest)
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("%s: bad digest %q in build record", d, rec.Digest))
	}
	idx, err := top.ImageIndex(h)
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("%s: the layout has no index %s named by %s; rebuild: %w", d, rec.Digest, BuildFile, err))
	}
	return idx, rec, nil
}
