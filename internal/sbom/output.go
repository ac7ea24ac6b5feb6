package sbom

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
)

// ForIndex generates and lock-checks the SBOM of every platform of a
// build: idx is the built index and rec its record. A zero o.Epoch
// defaults to the record's SOURCE_DATE_EPOCH and an empty o.Name to the
// record's name. Drift on any platform fails the whole call, after every
// platform has been checked so the error lists all of it.
func ForIndex(ctx context.Context, idx v1.ImageIndex, rec *buildrecord.Record, o Options) ([]*SBOM, error) {
	if o.Epoch.IsZero() {
		o.Epoch = time.Unix(rec.SourceDateEpoch, 0).UTC()
	}
	if o.Name == "" {
		o.Name = rec.Name
	}
	if len(rec.Platforms) == 0 {
		return nil, errs.Input(errors.New("the build record lists no platforms; rebuild"))
	}
	o, err := o.complete()
	if err != nil {
		return nil, err
	}
	licenses := o.Licenses
	if licenses == nil {
		licenses = newLicenses(sbomConfig(o).Licenses)
	}
	var (
		sboms []*SBOM
		drift []error
	)
	for _, pl := range rec.Platforms {
		h, err := v1.NewHash(pl.Digest)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("bad %s digest %q in the build record; rebuild", pl.Platform, pl.Digest))
		}
		img, err := idx.Image(h)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("the built index has no %s image %s; rebuild: %w", pl.Platform, pl.Digest, err))
		}
		s, err := generate(ctx, img, pl.Platform, pl.Digest, o, licenses)
		if err != nil {
			return nil, err
		}
		if err := CheckLock(s, pl.Wheels, pl.AppLayers); err != nil {
			drift = append(drift, err)
			continue
		}
		s.withLock(pl.Wheels, pl.AppLayers)
		sboms = append(sboms, s)
	}
	if len(drift) > 0 {
		return nil, errs.Check(errors.Join(drift...))
	}
	return sboms, nil
}

// Document is one encoded SBOM: a platform's catalogue in one format.
type Document struct {
	Platform string // "linux/amd64"
	Digest   string // the platform manifest
	Format   Format
	Bytes    []byte
}

// Documents encodes every SBOM in every format (all of them when none
// are given), in that order.
func Documents(sboms []*SBOM, formats ...Format) ([]Document, error) {
	if len(formats) == 0 {
		formats = Formats()
	}
	for _, f := range formats {
		if !f.valid() {
			return nil, fmt.Errorf("SBOM format %q is unknown: use %s or %s", f, SPDXJSON, CycloneDXJSON)
		}
	}
	seen := map[string]bool{}
	var out []Document
	for _, s := range sboms {
		if s.Platform == "" || seen[s.Platform] {
			return nil, fmt.Errorf("SBOM platform %q is empty or given twice; each SBOM needs its own platform", s.Platform)
		}
		seen[s.Platform] = true
		for _, f := range formats {
			b, err := s.Encode(f)
			if err != nil {
				return nil, err
			}
			out = append(out, Document{Platform: s.Platform, Digest: s.Digest, Format: f, Bytes: b})
		}
	}
	return out, nil
}
