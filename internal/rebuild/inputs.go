package rebuild

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/provenance"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheels"
	"github.com/harden-dev/harden/internal/wording"
)

// wheelSource is the wheel dir, the index mirror, or else the URLs the
// provenance records.
func wheelSource(o Options) (wheels.Source, error) {
	switch {
	case o.WheelDir != "":
		return wheels.NewDir(o.WheelDir), nil
	case o.IndexURL != "":
		return wheels.NewIndex(o.IndexURL, o.HTTPClient)
	}
	return wheels.NewRecorded(o.HTTPClient), nil
}

// obtainWheels fetches every recorded wheel into the cache, checking its
// sha256, and returns the picks per platform. It tries them all, then
// names every one that could not be obtained.
func obtainWheels(ctx context.Context, in *provenance.Inputs, src wheels.Source, cache *wheels.Cache, logf func(string, ...any)) (map[string][]wheels.Pick, error) {
	files := make(map[string]wheels.File, len(in.Wheels))
	var missing []string
	for _, w := range in.Wheels {
		f, err := locate(ctx, src, w)
		if err == nil {
			var fh *os.File
			if fh, err = cache.Open(ctx, src, f, w.SHA256); err == nil {
				fh.Close()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			missing = append(missing, fmt.Sprintf("%s %s (%s, sha256:%s): %v", w.Name, w.Version, w.Filename, w.SHA256, err))
			continue
		}
		files[w.SHA256] = f
	}
	if len(missing) > 0 {
		return nil, errs.Unreachable(fmt.Errorf("input unavailable: %d of %s cannot be obtained from %s:\n  %s\npoint --wheel-dir or --index-url at a copy that still has them",
			len(missing), wording.Count(len(in.Wheels), "wheel"), src, strings.Join(missing, "\n  ")))
	}
	logf("obtained %s from %s, each matching its recorded sha256", wording.Count(len(files), "wheel"), src)
	picks := map[string][]wheels.Pick{}
	for _, p := range in.Config.Platforms {
		picks[p] = []wheels.Pick{}
		for _, w := range in.ForPlatform(p) {
			fn, err := wheel.ParseFilename(w.Filename)
			if err != nil {
				return nil, errs.Input(fmt.Errorf("provenance wheel %q: %w", w.Filename, err))
			}
			req := lock.Requirement{Name: w.Name, Key: wheel.NormalizeName(w.Name), Version: w.Version, Hashes: []string{w.SHA256}}
			picks[p] = append(picks[p], wheels.Pick{Req: req, File: files[w.SHA256], Wheel: fn})
		}
	}
	return picks, nil
}

// locate finds w in src: at its recorded URL, or by filename and sha256
// in a wheel dir or index.
func locate(ctx context.Context, src wheels.Source, w provenance.Wheel) (wheels.File, error) {
	if _, ok := src.(*wheels.Recorded); ok {
		if w.URI == "" {
			return wheels.File{}, errors.New("the provenance records no URL for it; use --wheel-dir or --index-url")
		}
		return wheels.File{Filename: w.Filename, URL: w.URI, SHA256: w.SHA256}, nil
	}
	fs, err := src.Files(ctx, wheel.NormalizeName(w.Name))
	if err != nil {
		return wheels.File{}, err
	}
	var other []string
	for _, f := range fs {
		if f.Filename != w.Filename {
			continue
		}
		if f.SHA256 == "" || f.SHA256 == w.SHA256 {
			f.SHA256 = w.SHA256
			return f, nil
		}
		other = append(other, "sha256:"+f.SHA256)
	}
	if len(other) > 0 {
		return wheels.File{}, fmt.Errorf("%s offers this file with different content (%s)", src, strings.Join(other, ", "))
	}
	return wheels.File{}, fmt.Errorf("not in %s", src)
}

// checkUpstream verifies the PyPI attestations of the recorded wheels
// again, with the publishers the provenance records for them pinned: a
// wheel whose publisher changed, or whose attestation is gone, is not
// rebuilt from. The index asked is --index-url, else the one the build
// took the wheels from (pypiIndex), else the recorded config's, else
// PyPI; with --wheel-dir, the provenance cache alone.
func checkUpstream(ctx context.Context, o Options, in *provenance.Inputs, cacheDir string, logf func(string, ...any)) error {
	lf := &lock.File{Path: in.LockPath, Digest: in.LockDigest}
	var pins []upstream.Pin
	at := map[string]int{} // name==version -> index in pins and lf.Requirements
	recorded, recordedIndex := false, ""
	for _, w := range in.Wheels {
		k := w.Name + "==" + w.Version
		i, ok := at[k]
		if !ok {
			i = len(pins)
			at[k] = i
			pins = append(pins, upstream.Pin{Key: w.Name, Name: w.Name, Version: w.Version})
			lf.Requirements = append(lf.Requirements, lock.Requirement{Key: w.Name, Name: w.Name, Version: w.Version})
		}
		pins[i].Files = append(pins[i].Files, upstream.File{Filename: w.Filename, SHA256: w.SHA256})
		lf.Requirements[i].Hashes = append(lf.Requirements[i].Hashes, w.SHA256)
		if w.Upstream != nil {
			recorded, recordedIndex = true, cmp.Or(recordedIndex, w.Index)
			lf.Requirements[i].Provenance = append(lf.Requirements[i].Provenance, *w.Upstream)
		}
	}
	if !recorded {
		return nil
	}
	indexURL := ""
	if o.WheelDir == "" {
		indexURL = cmp.Or(o.IndexURL, recordedIndex, in.Config.Index.URL, wheels.DefaultIndex)
	}
	s := upstream.Settings{TrustedRoot: o.UpstreamTrustedRoot, CacheOnly: indexURL == ""}
	rep, err := s.Check(ctx, pins, lf, in.Config, indexURL, cacheDir, o.HTTPClient)
	if err != nil {
		return err
	}
	rep.Log(logf)
	if err := rep.Err(); err != nil {
		return fmt.Errorf("not rebuilt: %w", err)
	}
	return nil
}
