package build

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
)

// Output directory layout written by harden build.
const (
	LayoutDir  = "oci"        // OCI image layout holding the index
	RecordFile = "build.json" // the build record
)

// WriteOutput writes the index as an OCI layout and the record beside it
// under dir. Everything is staged in a sibling temporary directory and
// moved into place at the end: a failed build leaves no partial output.
func WriteOutput(dir string, idx v1.ImageIndex, rec *Record) error {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("stage output: %w", err)
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(filepath.Join(tmp, LayoutDir), empty.Index)
	if err != nil {
		return fmt.Errorf("create OCI layout: %w", err)
	}
	ann := map[string]string{"org.opencontainers.image.ref.name": rec.Version}
	if err := p.AppendIndex(idx, layout.WithAnnotations(ann)); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	if err := WriteRecord(filepath.Join(tmp, RecordFile), rec); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return fsutil.ReplaceDir(tmp, dir)
}

// ReadOutput opens what WriteOutput wrote and checks that the record and
// the layout agree on the digest.
func ReadOutput(dir string) (v1.ImageIndex, *Record, error) {
	rec, err := ReadRecord(filepath.Join(dir, RecordFile))
	if err != nil {
		return nil, nil, errs.Input(err)
	}
	p, err := layout.FromPath(filepath.Join(dir, LayoutDir))
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("open OCI layout in %s: %w; run harden build first", dir, err))
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("read %s: %w", dir, err))
	}
	h, err := v1.NewHash(rec.Digest)
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("%s: bad digest %q in build record", dir, rec.Digest))
	}
	idx, err := top.ImageIndex(h)
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("%s: the layout has no index %s named by build.json; rebuild: %w", dir, rec.Digest, err))
	}
	return idx, rec, nil
}
