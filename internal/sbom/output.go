package sbom

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
)

// ForBuild generates and lock-checks the SBOM of every platform of the
// build output in out (see buildrecord.ReadOutput). A zero o.Epoch defaults to
// the record's SOURCE_DATE_EPOCH and an empty o.Name to the record's
// name. Drift on any platform fails the whole call, after every platform
// has been checked so the error lists all of it.
func ForBuild(ctx context.Context, out string, o Options) ([]*SBOM, error) {
	idx, rec, err := buildrecord.ReadOutput(out)
	if err != nil {
		return nil, err
	}
	if o.Epoch.IsZero() {
		o.Epoch = time.Unix(rec.SourceDateEpoch, 0).UTC()
	}
	if o.Name == "" {
		o.Name = rec.Name
	}
	if len(rec.Platforms) == 0 {
		return nil, errs.Input(fmt.Errorf("%s: the build record lists no platforms; rebuild", out))
	}
	var (
		sboms []*SBOM
		drift []error
	)
	for _, pl := range rec.Platforms {
		h, err := v1.NewHash(pl.Digest)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("%s: bad %s digest %q in the build record; rebuild", out, pl.Platform, pl.Digest))
		}
		img, err := idx.Image(h)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("%s: the OCI layout has no %s image %s; rebuild: %w", out, pl.Platform, pl.Digest, err))
		}
		s, err := Generate(ctx, img, pl.Platform, pl.Digest, o)
		if err != nil {
			return nil, err
		}
		if err := CheckLock(s, pl.Wheels, pl.AppLayers); err != nil {
			drift = append(drift, err)
			continue
		}
		sboms = append(sboms, s)
	}
	if len(drift) > 0 {
		return nil, errs.Check(errors.Join(drift...))
	}
	return sboms, nil
}

// FileName is the name WriteFiles gives the SBOM of platform in format
// f: "linux/arm64/v8" becomes "linux-arm64-v8.spdx.json".
func FileName(platform string, f Format) string {
	return strings.ReplaceAll(platform, "/", "-") + f.extension()
}

// WriteFiles writes every SBOM in every format (all of them when none
// are given) to dir, each file atomically, and returns the paths in the
// order written. On error it returns the paths written before it.
func WriteFiles(dir string, sboms []*SBOM, formats ...Format) ([]string, error) {
	if len(formats) == 0 {
		formats = Formats()
	}
	for _, f := range formats {
		if !f.valid() {
			return nil, fmt.Errorf("write SBOMs: unknown format %q: use %s or %s", f, SPDXJSON, CycloneDXJSON)
		}
	}
	seen := map[string]bool{}
	for _, s := range sboms {
		if s.Platform == "" || seen[s.Platform] {
			return nil, fmt.Errorf("write SBOMs: platform %q is empty or given twice; each SBOM needs its own platform", s.Platform)
		}
		seen[s.Platform] = true
	}
	var paths []string
	for _, s := range sboms {
		for _, f := range formats {
			b, err := s.Encode(f)
			if err != nil {
				return paths, err
			}
			p := filepath.Join(dir, FileName(s.Platform, f))
			if err := fsutil.WriteFileAtomic(p, b, 0o644); err != nil {
				return paths, fmt.Errorf("write SBOM: %w", err)
			}
			paths = append(paths, p)
		}
	}
	return paths, nil
}
