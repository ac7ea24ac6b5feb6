package build

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/fsutil"
)

// stage is an output directory being written: a sibling temporary
// directory moved into place by commit, removed by discard. A failed
// build leaves no partial output.
type stage struct {
	dir, tmp string
}

func newStage(dir string) (*stage, error) {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("stage output: %w", err)
	}
	return &stage{dir: dir, tmp: tmp}, nil
}

// blobDir is where the build writes its layers: the staged layout's
// blobs, so writing the layout finds them in place.
func (s *stage) blobDir() string {
	return filepath.Join(dist.Dir(s.tmp).Layout(), "blobs", "sha256")
}

// commit writes the index as an OCI layout (pulling the base layers) and
// the record beside it, then moves the directory into place.
func (s *stage) commit(idx v1.ImageIndex, rec *buildrecord.Record) error {
	p, err := layout.Write(dist.Dir(s.tmp).Layout(), empty.Index)
	if err != nil {
		return fmt.Errorf("create OCI layout: %w", err)
	}
	ann := map[string]string{"org.opencontainers.image.ref.name": rec.Version}
	if err := p.AppendIndex(idx, layout.WithAnnotations(ann)); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	if err := buildrecord.WriteRecord(dist.Dir(s.tmp).BuildRecord(), rec); err != nil {
		return err
	}
	if err := os.Chmod(s.tmp, 0o755); err != nil {
		return err
	}
	return fsutil.ReplaceDir(s.tmp, s.dir)
}

func (s *stage) discard() { os.RemoveAll(s.tmp) }
