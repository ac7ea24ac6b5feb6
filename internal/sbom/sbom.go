// Package sbom generates a software bill of materials for every platform
// image of a harden build with syft (linked as a library), renders it as
// SPDX 2.3 or CycloneDX 1.6 JSON, and cross-checks the Python packages
// it finds against the locked wheels.
package sbom

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/cataloging"
	syftsbom "github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	// syft opens RPM databases through database/sql and fails without a
	// registered sqlite driver, even for images that have none.
	// The sqlite driver syft's RPM cataloguer opens; grype's database uses
	// the same one, and two drivers named "sqlite" cannot both register.
	_ "github.com/glebarez/go-sqlite"

	"github.com/harden-dev/harden/internal/buildrecord"
)

// Options describe the document rather than the image.
type Options struct {
	Epoch       time.Time // creation time (from SOURCE_DATE_EPOCH); required
	ToolName    string    // "harden"
	ToolVersion string
	Name        string // image name for the document, e.g. "ghcr.io/org/pgcli"; required
	// Licenses is a license scanner started earlier (StartLicenses);
	// nil: ForIndex starts one.
	Licenses *Licenses
}

func (o Options) complete() (Options, error) {
	if o.Epoch.IsZero() {
		return o, errors.New("sbom: no creation time: set SOURCE_DATE_EPOCH (the build record's sourceDateEpoch)")
	}
	if o.Name == "" {
		return o, errors.New("sbom: no image name for the document: pass the repository the image is published to")
	}
	o.Epoch = o.Epoch.UTC().Truncate(time.Second)
	o.ToolName = cmp.Or(o.ToolName, "harden")
	o.ToolVersion = cmp.Or(o.ToolVersion, "unknown")
	return o, nil
}

// Package is one package syft found.
type Package struct {
	Name    string
	Version string
	Type    string // syft package type: "python", "deb", "binary", ...
	PURL    string
	// Layers are the diff IDs of the layers holding the files the package
	// was found by, in image layer order.
	Layers []string
}

// SBOM is the catalogue of one platform image.
type SBOM struct {
	Platform string    // "linux/amd64"
	Digest   string    // platform manifest digest
	Packages []Package // sorted by type, name, version

	doc         *syftsbom.SBOM
	opts        Options
	syftVersion string
	// wheels and appLayers are the platform's locked wheels and
	// harden's layers, set once the SBOM matched the lock (withLock).
	wheels    []buildrecord.WheelRecord
	appLayers []string
}

// Generate catalogues one platform image. It stages img as a
// single-image OCI layout in a temporary directory, runs syft on it and
// removes everything it wrote before returning.
func Generate(ctx context.Context, img v1.Image, platform, digest string, o Options) (*SBOM, error) {
	return generate(ctx, img, platform, digest, o, o.Licenses)
}

// sbomConfig is syft's configuration for the documents harden writes.
func sbomConfig(o Options) *syft.CreateSBOMConfig {
	return syft.DefaultCreateSBOMConfig().WithTool(o.ToolName, o.ToolVersion)
}

// generate is Generate with a license scanner shared with other calls
// (nil: build one).
func generate(ctx context.Context, img v1.Image, platform, digest string, o Options, licenses *Licenses) (_ *SBOM, err error) {
	o, err = o.complete()
	if err != nil {
		return nil, err
	}
	got, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("sbom %s: read image digest: %w", platform, err)
	}
	if got.String() != digest {
		return nil, fmt.Errorf("sbom %s: image digest is %s, the build record says %s; rebuild", platform, got, digest)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	syftVersion := syft.DefaultCreateSBOMConfig().ToolVersion // read from the binary's build info
	cfg := sbomConfig(o)
	if licenses == nil {
		licenses = newLicenses(cfg.Licenses)
	}

	dir, err := os.MkdirTemp("", "harden-sbom-*")
	if err != nil {
		return nil, fmt.Errorf("sbom %s: create staging directory: %w", platform, err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
			err = fmt.Errorf("sbom %s: remove staging directory: %w", platform, rmErr)
		}
	}()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("sbom %s: stage image as OCI layout: %w", platform, err)
	}
	if err := p.AppendImage(img); err != nil {
		return nil, fmt.Errorf("sbom %s: stage image as OCI layout in %s: %w", platform, dir, err)
	}

	// The alias names the document after the image instead of the
	// staging path.
	srcCfg := syft.DefaultGetSourceConfig().
		WithSources("oci-dir").
		WithAlias(source.Alias{Name: o.Name, Version: digest})
	src, err := syft.GetSource(ctx, dir, srcCfg)
	if err != nil {
		return nil, fmt.Errorf("sbom %s: open staged image: %w", platform, err)
	}
	defer func() {
		// Close removes the layers stereoscope unpacked.
		if cErr := src.Close(); cErr != nil && err == nil {
			err = fmt.Errorf("sbom %s: clean up unpacked layers: %w", platform, cErr)
		}
	}()

	sctx, err := licenses.with(ctx)
	if err != nil {
		return nil, fmt.Errorf("sbom %s: %w", platform, err)
	}
	doc, err := syft.CreateSBOM(sctx, src, cfg)
	if err != nil {
		return nil, fmt.Errorf("sbom %s: catalogue image %s: %w", platform, digest, err)
	}
	scrubSource(doc, o.Name, digest)
	return &SBOM{
		Platform:    platform,
		Digest:      digest,
		Packages:    packagesOf(doc),
		doc:         doc,
		opts:        o,
		syftVersion: syftVersion,
	}, nil
}

// Licenses is syft's license scanner, built in the background: it
// compiles every license text syft knows into one automaton (about a
// second of CPU), which overlaps with whatever runs meanwhile (staging
// the image; in a release, the stages before the SBOMs). It keeps no
// state between scans, so the platforms of one index share one.
type Licenses struct {
	done chan struct{}
	ctx  context.Context // carries the scanner, as syft looks it up
	err  error
}

// StartLicenses starts building the license scanner the SBOMs use, for
// Options.Licenses.
func StartLicenses() *Licenses {
	return newLicenses(syft.DefaultCreateSBOMConfig().Licenses)
}

// newLicenses starts building the scanner for cfg.
func newLicenses(cfg cataloging.LicenseConfig) *Licenses {
	ls := &Licenses{done: make(chan struct{})}
	go func() {
		defer close(ls.done)
		ls.ctx, ls.err = syft.SetContextLicenseScanner(context.Background(), cfg)
	}()
	return ls
}

// with returns ctx carrying the scanner, once it is built. syft uses a
// scanner it finds in the context instead of building its own.
func (ls *Licenses) with(ctx context.Context) (context.Context, error) {
	select {
	case <-ls.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if ls.err != nil {
		return nil, ls.err
	}
	return withValues{Context: ctx, values: ls.ctx}, nil
}

// withValues is a context whose values not found in the embedded one are
// looked up in values (whose cancellation and deadline do not apply).
type withValues struct {
	context.Context
	values context.Context
}

func (c withValues) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

// scrubSource replaces the staging path syft recorded as the user input
// with the image reference, so no temporary path reaches a document.
func scrubSource(doc *syftsbom.SBOM, name, digest string) {
	if m, ok := doc.Source.Metadata.(source.ImageMetadata); ok {
		m.UserInput = name + "@" + digest
		doc.Source.Metadata = m
	}
}

// packagesOf lists syft's packages with the layers their evidence came
// from. For images, a location's FileSystemID is the layer diff ID.
func packagesOf(doc *syftsbom.SBOM) []Package {
	order := map[string]int{}
	if m, ok := doc.Source.Metadata.(source.ImageMetadata); ok {
		for i, l := range m.Layers {
			order[l.Digest] = i
		}
	}
	var out []Package
	for p := range doc.Artifacts.Packages.Enumerate() {
		var layers []string
		for _, l := range p.Locations.ToUnorderedSlice() {
			if id := l.FileSystemID; id != "" && !slices.Contains(layers, id) {
				layers = append(layers, id)
			}
		}
		slices.SortFunc(layers, func(a, b string) int {
			return cmp.Or(cmp.Compare(order[a], order[b]), cmp.Compare(a, b))
		})
		out = append(out, Package{
			Name:    p.Name,
			Version: p.Version,
			Type:    string(p.Type),
			PURL:    p.PURL,
			Layers:  layers,
		})
	}
	slices.SortFunc(out, func(a, b Package) int {
		return cmp.Or(
			cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.PURL, b.PURL),
			slices.Compare(a.Layers, b.Layers),
		)
	})
	return out
}
