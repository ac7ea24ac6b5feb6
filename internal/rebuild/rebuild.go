// Package rebuild proves a published image from its own provenance: it
// verifies the signed SLSA provenance, builds again from exactly the
// inputs it records, and compares digests. When they differ it shows the
// first layer that differs and the files in it.
package rebuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/build"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/export"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/provenance"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/verify"
	"github.com/harden-dev/harden/internal/wheels"
)

// Options say what to rebuild and where its inputs come from.
type Options struct {
	// Verify names the image (or export) and the identity that must have
	// signed its provenance. Verify.Registry is also used for the base.
	Verify verify.Options
	// WheelDir or IndexURL replace the wheel URLs the provenance records
	// (a mirror, or an offline copy). Files are matched by sha256.
	WheelDir string
	IndexURL string
	// BaseRepository pulls the base (same digest) from a mirror.
	BaseRepository string
	// CacheDir holds downloaded wheels; "" uses a fresh temporary
	// directory, removed afterwards.
	CacheDir string
	// UpstreamTrustedRoot is the Sigstore trusted root the wheels' PyPI
	// attestations are verified against, when the provenance records
	// them; "" is the public-good root through TUF.
	UpstreamTrustedRoot string
	HTTPClient          *http.Client
	Log                 func(format string, args ...any)
}

// Result is the outcome of a rebuild.
type Result struct {
	Image     string     `json:"image"`
	Digest    string     `json:"digest"`  // published index
	Rebuilt   string     `json:"rebuilt"` // rebuilt index
	Match     bool       `json:"match"`
	Platforms []Platform `json:"platforms"`
	// Difference is the first difference found, when Match is false.
	Difference *Difference `json:"difference,omitempty"`
	// Report is the verification the rebuild relied on.
	Report *verify.Report `json:"verification"`
}

// Platform compares one platform manifest.
type Platform struct {
	Platform  string `json:"platform"`
	Published string `json:"published"`
	Rebuilt   string `json:"rebuilt"`
	Match     bool   `json:"match"`
}

// trustedChecks must pass before a provenance is replayed.
var trustedChecks = map[string]bool{"reference": true, "storage": true, "signature": true, "provenance": true}

// Run verifies the image, rebuilds it from its provenance and compares.
// A mismatch is a Result with Match false and an errs.Check error; an
// input that can no longer be obtained is an errs.Unreachable error
// naming it. The rebuild check is added to the verification report.
func Run(ctx context.Context, o Options) (*Result, error) {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rep, err := verify.Verify(ctx, o.Verify)
	if err != nil {
		return nil, err
	}
	res := &Result{Image: rep.Image, Digest: rep.Digest, Report: rep}
	err = res.rebuild(ctx, o, logf)
	res.addCheck(err)
	return res, err
}

func (res *Result) rebuild(ctx context.Context, o Options, logf func(string, ...any)) error {
	rep := res.Report
	var untrusted []string
	for _, c := range rep.Checks {
		if trustedChecks[c.Name] && !c.Passed {
			untrusted = append(untrusted, fmt.Sprintf("%s %s: %s", c.Name, c.Subject, c.Reason))
		}
	}
	if len(untrusted) > 0 {
		return errs.Check(fmt.Errorf("not rebuilt: the provenance of %s does not verify, so its inputs cannot be trusted:\n  %s", rep.Image, strings.Join(untrusted, "\n  ")))
	}
	in, err := inputsOf(rep)
	if err != nil {
		return err
	}
	logf("provenance: %d platform(s), %d wheel(s), base %s, SOURCE_DATE_EPOCH %d", len(in.Config.Platforms), len(in.Wheels), in.Config.Base, in.Epoch.Unix())

	published, closePub, err := openPublished(ctx, o)
	if err != nil {
		return err
	}
	defer closePub()

	cacheDir := o.CacheDir
	if cacheDir == "" {
		tmp, err := os.MkdirTemp("", "harden-rebuild-")
		if err != nil {
			return fmt.Errorf("create a temporary directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		cacheDir = tmp
	}
	cache, err := wheels.NewCache(cacheDir)
	if err != nil {
		return errs.Input(err)
	}
	src, err := wheelSource(o)
	if err != nil {
		return err
	}
	picks, err := obtainWheels(ctx, in, src, cache, logf)
	if err != nil {
		return err
	}
	if err := checkUpstream(ctx, o, in, cacheDir, logf); err != nil {
		return err
	}
	if err := checkBase(ctx, o, in); err != nil {
		return err
	}
	// Config.Dir is only used to name the lock relative to it.
	in.Config.Dir = "."
	blobs, err := os.MkdirTemp("", "harden-rebuild-layers-")
	if err != nil {
		return fmt.Errorf("create a temporary directory: %w", err)
	}
	defer os.RemoveAll(blobs)
	logf("layer format %d, %s", in.Layering.Format, in.Layering.Compression)
	idx, _, err := build.Build(ctx, build.Options{
		Config: in.Config, Lock: &lock.File{Path: in.LockPath, Digest: in.LockDigest},
		Input: requirementsInput(in.Requirements), Source: src, Cache: cache, Registry: o.Verify.Registry,
		Epoch: in.Epoch, Picks: picks, BaseRepository: o.BaseRepository, Log: logf,
		BlobDir: blobs, Layering: &in.Layering,
	})
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	return res.compare(ctx, published, idx)
}

// inputsOf finds the verified SLSA provenance about the index.
func inputsOf(rep *verify.Report) (*provenance.Inputs, error) {
	if rep.Input == nil {
		return nil, errors.New("internal: verification produced no policy input")
	}
	for _, a := range rep.Input.Attestations {
		if a.PredicateType != provenance.PredicateType || a.Subject != rep.Digest || a.Statement == nil {
			continue
		}
		raw, err := json.Marshal(a.Statement)
		if err != nil {
			return nil, fmt.Errorf("re-encode the verified provenance: %w", err)
		}
		st, prov, err := provenance.Parse(raw)
		if err != nil {
			return nil, err
		}
		in, err := provenance.ReadInputs(st, prov)
		if err != nil {
			return nil, err
		}
		if in.Subjects[""] != rep.Digest {
			return nil, errs.Check(fmt.Errorf("the provenance's index subject is %s, not %s", in.Subjects[""], rep.Digest))
		}
		return in, nil
	}
	return nil, errs.Check(fmt.Errorf("no verified SLSA provenance about %s; attest it with harden attest", rep.Digest))
}

// openPublished returns the published index, from the registry or from
// the export the image was verified from.
func openPublished(ctx context.Context, o Options) (v1.ImageIndex, func(), error) {
	rc, image := o.Verify.Registry, o.Verify.Image
	closeFn := func() {}
	if o.Verify.Layout != "" {
		s, err := export.Serve(ctx, o.Verify.Layout)
		if err != nil {
			return nil, nil, err
		}
		closeFn = func() { _ = s.Close() }
		image = s.Image.String()
		rc = registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	}
	ref, err := name.NewDigest(image)
	if err != nil {
		closeFn()
		return nil, nil, errs.Input(fmt.Errorf("image %q: %w; name it as REPO@sha256:…", image, err))
	}
	idx, err := rc.Index(ctx, ref)
	if err != nil {
		closeFn()
		if registry.IsNotIndex(err) {
			return nil, nil, errs.Input(fmt.Errorf("%s is a single image, not an index; harden builds an index: rebuild the index digest", ref))
		}
		return nil, nil, err
	}
	return idx, closeFn, nil
}

// checkBase makes sure the pinned base can still be pulled, so that a
// vanished base is named as a missing input rather than a build error.
func checkBase(ctx context.Context, o Options, in *provenance.Inputs) error {
	ref, err := in.Config.BaseRef()
	if err != nil {
		return errs.Input(fmt.Errorf("provenance baseImage: %w", err))
	}
	pull := ref
	if o.BaseRepository != "" {
		if pull, err = name.NewDigest(o.BaseRepository + "@" + ref.DigestStr()); err != nil {
			return errs.Input(fmt.Errorf("--base-repository %q: %w", o.BaseRepository, err))
		}
	}
	if _, err := o.Verify.Registry.Digest(ctx, pull); err != nil {
		return errs.Unreachable(fmt.Errorf("input unavailable: base image %s: %w; pull it from a mirror with --base-repository", pull, err))
	}
	return nil
}

func requirementsInput(keys []string) *lock.Input {
	in := &lock.Input{}
	for _, k := range keys {
		in.Requirements = append(in.Requirements, lock.InputRequirement{Name: k, Key: k})
	}
	return in
}

// addCheck records the outcome as the "rebuild" check of the report.
func (res *Result) addCheck(err error) {
	rep := res.Report
	c := verify.Check{Name: "rebuild", Subject: res.Digest}
	switch {
	case err == nil && res.Match:
		c.Passed, c.Reason = true, "rebuilt from the signed provenance to the same digest"
	case res.Difference != nil:
		c.Reason = "rebuilt to " + res.Rebuilt + ": " + res.Difference.Summary()
	case err != nil:
		c.Reason = err.Error()
	default:
		c.Reason = "rebuilt to " + res.Rebuilt
	}
	rep.Checks = append(rep.Checks, c)
	if rep.Input != nil {
		rep.Input.Checks = rep.Checks
	}
	rep.Verified = len(rep.Failed()) == 0
}
