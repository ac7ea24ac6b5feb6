// Package build is harden's native, daemonless image builder: a base image
// pinned by digest plus the locked wheels, installed without Python, in
// deterministic layers. Same inputs, same digests.
package build

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/gitinfo"
	"github.com/harden-dev/harden/internal/layer"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheels"
)

// Options are the inputs of one build.
type Options struct {
	Config   *config.Config
	Lock     *lock.File
	Input    *lock.Input // top-level requirements: their wheels get REQUESTED
	Source   wheels.Source
	Cache    *wheels.Cache
	Registry *registry.Client
	Epoch    time.Time
	Git      gitinfo.Info
	// BlobDir is where the layers harden adds are written, as files named
	// by digest (an OCI layout's blobs/sha256 when the build is written
	// out). Nothing of the image is held in memory.
	BlobDir string
	// Layering, when set, is the layer format to reproduce (harden
	// rebuild); otherwise the current format with the config's settings.
	Layering *buildrecord.Layering
	// Picks, when set, are the exact files to install per platform
	// ("linux/amd64"), replacing selection from the lock. harden rebuild
	// replays a provenance's wheels this way.
	Picks map[string][]wheels.Pick
	// BaseRepository, when set, is where the base is pulled from (a
	// mirror); the pinned digest and the recorded base name stay.
	BaseRepository string
	// Base, when set, is the base already inspected, so its layers are
	// not read again.
	Base *baseimage.Base
	// Log receives one line per step; nil discards.
	Log func(format string, args ...any)
}

// Build produces the image index. The layers harden adds are files in
// o.BlobDir; base layers stay lazy until the index is written or pushed.
func Build(ctx context.Context, o Options) (v1.ImageIndex, *buildrecord.Record, error) {
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.BlobDir == "" {
		return nil, nil, errors.New("internal: build without a blob directory")
	}
	logf := o.Log
	c := o.Config
	lay, err := layeringFor(o)
	if err != nil {
		return nil, nil, err
	}
	baseRef, err := c.BaseRef()
	if err != nil {
		return nil, nil, errs.Input(err)
	}
	logf("base %s", baseRef)
	pullRef := baseRef
	if o.BaseRepository != "" {
		if pullRef, err = name.NewDigest(o.BaseRepository + "@" + baseRef.DigestStr()); err != nil {
			return nil, nil, errs.Input(fmt.Errorf("base mirror %q: %w; give a repository such as mirror.example.com/library/python", o.BaseRepository, err))
		}
		logf("base pulled from %s", pullRef)
	}
	base := o.Base
	if base == nil {
		if base, err = baseimage.Inspect(ctx, o.Registry, pullRef, c.Platforms); err != nil {
			return nil, nil, err
		}
	} else if base.Ref.DigestStr() != baseRef.DigestStr() {
		return nil, nil, fmt.Errorf("build: the inspected base is %s, not the configured %s", base.Ref, baseRef)
	}
	rec := &buildrecord.Record{
		SchemaVersion:   buildrecord.Schema,
		Name:            c.Name,
		Version:         c.Version,
		Base:            buildrecord.BaseRecord{Name: baseName(c.Base), Digest: baseRef.DigestStr(), Ref: baseRef.String()},
		Lock:            buildrecord.LockRecord{Path: relTo(c.Dir, o.Lock.Path), Digest: o.Lock.Digest},
		SourceDateEpoch: o.Epoch.Unix(),
		Source:          buildrecord.SourceRecord{URL: firstNonEmpty(c.Source.URL, o.Git.RemoteURL), Revision: firstNonEmpty(c.Source.Revision, o.Git.Commit)},
	}
	if lay.Format != buildrecord.FirstFormat {
		rec.Layering = &lay
	}
	requested := map[string]bool{}
	if o.Input != nil {
		for _, r := range o.Input.Requirements {
			if !requested[r.Key] {
				rec.Requirements = append(rec.Requirements, r.Key)
			}
			requested[r.Key] = true
		}
		sort.Strings(rec.Requirements)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	var der derivedEntrypoint
	for i := range base.Platforms {
		p := &base.Platforms[i]
		logf("%s: installing wheels", p.Name)
		img, prec, err := buildPlatform(ctx, o, lay, p, requested, rec, &der)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: plainImage{img}, Descriptor: v1.Descriptor{Platform: p.Desc.Platform}})
		rec.Platforms = append(rec.Platforms, *prec)
	}
	idx = mutate.AppendManifests(idx, adds...)
	d, err := idx.Digest()
	if err != nil {
		return nil, nil, fmt.Errorf("compute index digest: %w", err)
	}
	rec.Digest = d.String()
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	for i, m := range im.Manifests {
		rec.Platforms[i].Digest = m.Digest.String()
	}
	logf("index %s", d)
	return idx, rec, nil
}

// layeringFor is the layer format to build: the one given (a rebuild)
// or the current one with the config's wheel layer settings.
func layeringFor(o Options) (buildrecord.Layering, error) {
	if o.Layering != nil {
		if err := o.Layering.Check(); err != nil {
			return buildrecord.Layering{}, errs.Input(err)
		}
		return *o.Layering, nil
	}
	b := o.Config.BuildSettings()
	return buildrecord.Layering{Format: buildrecord.CurrentFormat, Compression: layer.ParallelGzip,
		WheelLayerThreshold: int64(b.WheelLayerThreshold), MaxWheelLayers: *b.MaxWheelLayers}, nil
}

// plainImage keeps go-containerregistry from writing the config media type
// as artifactType in the index descriptor: these are images, not
// artifacts, and BuildKit-built indexes carry no artifactType either.
type plainImage struct{ v1.Image }

func (plainImage) ArtifactType() (string, error) { return "", nil }

// installedWheel is one wheel in the platform's tree.
type installedWheel struct {
	pick  wheels.Pick
	files []string // absolute paths it installed
	size  int64    // bytes of its regular files
}

func buildPlatform(ctx context.Context, o Options, lay buildrecord.Layering, p *baseimage.Platform, requested map[string]bool, rec *buildrecord.Record, der *derivedEntrypoint) (v1.Image, *buildrecord.PlatformRecord, error) {
	c, logf := o.Config, o.Log
	fs := p.FS
	t, err := p.Target(c)
	if err != nil {
		return nil, nil, err
	}
	env := &t.Python
	var picks []wheels.Pick
	if o.Picks != nil {
		picks = append(picks, o.Picks[p.Name]...)
	} else if picks, err = wheels.Select(ctx, o.Source, o.Lock, t.Wheel, t.Env, p.Name); err != nil {
		return nil, nil, err
	}
	sort.Slice(picks, func(i, j int) bool { return picks[i].Req.Key < picks[j].Req.Key })

	limits := c.BuildSettings()
	// The tree holds metadata; wheel members stream from the open wheel
	// files when the layers are written, below.
	wheelTree := layer.New()
	prec := &buildrecord.PlatformRecord{Platform: p.Name, BaseDigest: p.Desc.Digest.String(), Python: *env}
	scheme := wheel.Scheme{Purelib: env.Purelib, Platlib: env.Platlib, Scripts: env.Scripts, Data: env.Data, Headers: env.Headers}
	var installed []installedWheel
	var total int64
	scripts := map[string][]string{} // top-level console scripts, when harden.yaml names no entrypoint
	for _, pk := range picks {
		sum, err := lockedHash(pk)
		if err != nil {
			return nil, nil, err
		}
		fh, err := o.Cache.Open(ctx, o.Source, pk.File, sum)
		if err != nil {
			return nil, nil, err
		}
		defer fh.Close()
		size, err := wheels.Size(fh)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", pk.File.Filename, err)
		}
		inst, err := wheel.Install(fh, size, pk.File.Filename, wheelTree, wheel.InstallOptions{
			Scheme: scheme, Interpreter: env.Interpreter, Requested: requested[pk.Req.Key], Installer: "harden", MaxSize: int64(limits.MaxWheelSize)})
		var se *wheel.SizeError
		if errors.As(err, &se) {
			return nil, nil, errs.Input(fmt.Errorf("%w; if the wheel is meant to be this large, raise build.maxWheelSize in harden.yaml", err))
		}
		if err != nil {
			return nil, nil, errs.Input(fmt.Errorf("install %s: %w", pk.File.Filename, err))
		}
		for _, w := range inst.Warnings {
			logf("%s: warning: %s: %s", p.Name, pk.File.Filename, w)
		}
		if !sameName(inst.Name, pk.Req.Name) {
			return nil, nil, errs.Input(fmt.Errorf("%s declares project %q in its METADATA but the lock pins %q; the file is mislabelled: remove it from the index", pk.File.Filename, inst.Name, pk.Req.Name))
		}
		if len(c.Entrypoint) == 0 && requested[pk.Req.Key] {
			if scripts[pk.Req.Key], err = consoleScripts(fh, size, path.Base(inst.DistInfo)); err != nil {
				return nil, nil, errs.Input(fmt.Errorf("read the console scripts of %s: %w", pk.File.Filename, err))
			}
		}
		iw := installedWheel{pick: pk, files: inst.Files}
		for _, f := range inst.Files {
			if e, ok := wheelTree.Get(f); ok {
				iw.size += e.Size
			}
		}
		if total += iw.size; total > int64(limits.MaxInstalledSize) {
			return nil, nil, errs.Input(fmt.Errorf("the locked wheels install more than %s (the limit build.maxInstalledSize in harden.yaml), %s of it by %s; raise the limit if the image is meant to be this large",
				units.BytesSize(float64(limits.MaxInstalledSize)), units.BytesSize(float64(iw.size)), pk.File.Filename))
		}
		installed = append(installed, iw)
		prec.Wheels = append(prec.Wheels, buildrecord.WheelRecord{Name: pk.Req.Key, Version: pk.Req.Version, Filename: pk.File.Filename, SHA256: sum, URL: pk.File.URL,
			Upstream: buildrecord.UpstreamOf(pk.Req, sum)})
	}
	entrypoint, err := resolveEntrypoint(o, rec.Requirements, scripts, p.Name, der)
	if err != nil {
		return nil, nil, err
	}
	if err := shadowBaseDists(fs, wheelTree, scheme, picks); err != nil {
		return nil, nil, err
	}
	userTree, home, err := userLayer(fs, c.User)
	if err != nil {
		return nil, nil, errs.Input(err)
	}
	mt := types.OCILayer
	if p.Desc.MediaType == types.DockerManifestSchema2 {
		mt = types.DockerLayer
	}
	created := v1.Time{Time: o.Epoch}
	w := layer.Writer{Dir: o.BlobDir, Compression: lay.Compression, Workers: min(runtime.GOMAXPROCS(0), 8)}
	var adds []mutate.Addendum
	addLayer := func(tr *layer.Tree, mtime time.Time, createdBy string) error {
		b, err := w.WriteTree(tr, mtime, mt)
		if err != nil {
			return fmt.Errorf("write layer (%s): %w", createdBy, err)
		}
		adds = append(adds, mutate.Addendum{Layer: b.Layer(), History: v1.History{Created: created, CreatedBy: createdBy, Comment: "harden"}})
		prec.AppLayers = append(prec.AppLayers, b.DiffID.String())
		return nil
	}
	if err := addLayer(userTree, o.Epoch, fmt.Sprintf("harden: user %s (%d:%d)", c.User.Name, c.User.UID, c.User.GID)); err != nil {
		return nil, nil, err
	}
	wheelMtime := o.Epoch
	own := []installedWheel(nil)
	if lay.Format != buildrecord.FirstFormat {
		wheelMtime = buildrecord.WheelMtime
		own = ownLayers(installed, lay)
	}
	ownTrees := make([]*layer.Tree, len(own))
	for i, iw := range own {
		ownTrees[i] = layer.New()
		for _, f := range iw.files {
			e, ok := wheelTree.Remove(f)
			if !ok {
				return nil, nil, fmt.Errorf("internal: %s lost %s", iw.pick.File.Filename, f)
			}
			if err := ownTrees[i].Add(*e); err != nil {
				return nil, nil, err
			}
		}
	}
	shared := len(picks) - len(own)
	if err := addLayer(wheelTree, wheelMtime, fmt.Sprintf("harden: install %d locked wheels (lock %s)", shared, o.Lock.Digest)); err != nil {
		return nil, nil, err
	}
	for i, iw := range own {
		logf("%s: %s (%s installed) in a layer of its own", p.Name, iw.pick.File.Filename, units.BytesSize(float64(iw.size)))
		if err := addLayer(ownTrees[i], wheelMtime, fmt.Sprintf("harden: install %s (sha256:%s)", iw.pick.File.Filename, iw.pick.File.SHA256)); err != nil {
			return nil, nil, err
		}
	}
	img, err := mutate.Append(p.Image, adds...)
	if err != nil {
		return nil, nil, fmt.Errorf("append layers: %w", err)
	}
	ncf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	ncf = ncf.DeepCopy()
	ncf.Created = created
	ncf.Config.User = fmt.Sprintf("%d:%d", c.User.UID, c.User.GID)
	ncf.Config.Entrypoint = entrypoint
	ncf.Config.Cmd = append([]string(nil), c.Cmd...)
	ncf.Config.WorkingDir = firstNonEmpty(c.WorkingDir, home)
	ncf.Config.Env = mergeEnv(ncf.Config.Env, c.Env, home)
	ncf.Config.Labels = labels(ncf.Config.Labels, c, rec, p.Desc.Digest.String(), o.Epoch)
	img, err = mutate.ConfigFile(img, ncf)
	if err != nil {
		return nil, nil, fmt.Errorf("set image config: %w", err)
	}
	if p.Desc.MediaType == types.DockerManifestSchema2 {
		img = mutate.MediaType(img, types.DockerManifestSchema2)
	} else {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	return img, prec, nil
}

// ownLayers picks the wheels that get a layer of their own: those that
// install at least the threshold, the largest first, at most
// MaxWheelLayers of them; returned in lock (name) order, so the layer
// order only changes when the set does.
func ownLayers(installed []installedWheel, lay buildrecord.Layering) []installedWheel {
	var big []installedWheel
	for _, iw := range installed {
		if lay.WheelLayerThreshold > 0 && iw.size >= lay.WheelLayerThreshold {
			big = append(big, iw)
		}
	}
	sort.SliceStable(big, func(i, j int) bool { return big[i].size > big[j].size })
	if len(big) > lay.MaxWheelLayers {
		big = big[:lay.MaxWheelLayers]
	}
	sort.Slice(big, func(i, j int) bool { return big[i].pick.Req.Key < big[j].pick.Req.Key })
	return big
}

func lockedHash(p wheels.Pick) (string, error) {
	for _, h := range p.Req.Hashes {
		if h == p.File.SHA256 {
			return h, nil
		}
	}
	return "", errors.New("internal: picked a file without a locked hash")
}

func sameName(a, b string) bool { return wheel.NormalizeName(a) == wheel.NormalizeName(b) }

// relTo names p relative to dir when it lies below it, so that records
// do not depend on where the checkout is.
func relTo(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return filepath.ToSlash(r)
	}
	return p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// baseName is the human reference of the base without its digest.
func baseName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	return ref
}

// mergeEnv keeps the base's variables in order, overrides or appends the
// configured ones in sorted order, and sets HOME unless configured.
func mergeEnv(base []string, set map[string]string, home string) []string {
	out := append([]string(nil), base...)
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if _, ok := set["HOME"]; !ok {
		keys = append(keys, "HOME")
	}
	for _, k := range keys {
		v, ok := set[k]
		if !ok {
			v = home
		}
		replaced := false
		for i, kv := range out {
			if strings.HasPrefix(kv, k+"=") {
				out[i] = k + "=" + v
				replaced = true
			}
		}
		if !replaced {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func labels(base map[string]string, c *config.Config, rec *buildrecord.Record, baseDigest string, epoch time.Time) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range c.Labels {
		out[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("org.opencontainers.image.source", rec.Source.URL)
	set("org.opencontainers.image.revision", rec.Source.Revision)
	set("org.opencontainers.image.version", c.Version)
	set("org.opencontainers.image.created", epoch.UTC().Format(time.RFC3339))
	set("org.opencontainers.image.base.name", rec.Base.Name)
	set("org.opencontainers.image.base.digest", baseDigest)
	return out
}
