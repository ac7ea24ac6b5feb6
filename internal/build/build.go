// Package build is harden's native, daemonless image builder: a base image
// pinned by digest plus the locked wheels, installed without Python, in
// deterministic layers. Same inputs, same digests.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

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
	// Picks, when set, are the exact files to install per platform
	// ("linux/amd64"), replacing selection from the lock. harden rebuild
	// replays a provenance's wheels this way.
	Picks map[string][]wheels.Pick
	// BaseRepository, when set, is where the base is pulled from (a
	// mirror); the pinned digest and the recorded base name stay.
	BaseRepository string
	// Base, when set, is the base already inspected (InspectBase), so its
	// layers are not read again.
	Base *Base
	// Log receives one line per step; nil discards.
	Log func(format string, args ...any)
}

// Build produces the image index in memory. Base layers stay lazy until
// the index is written or pushed.
func Build(ctx context.Context, o Options) (v1.ImageIndex, *Record, error) {
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	logf := o.Log
	c := o.Config
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
		if base, err = inspect(ctx, o.Registry, pullRef, c.Platforms); err != nil {
			return nil, nil, err
		}
	} else if base.ref.DigestStr() != baseRef.DigestStr() {
		return nil, nil, fmt.Errorf("build: the inspected base is %s, not the configured %s", base.ref, baseRef)
	}
	rec := &Record{
		SchemaVersion:   RecordSchema,
		Name:            c.Name,
		Version:         c.Version,
		Base:            BaseRecord{Name: baseName(c.Base), Digest: baseRef.DigestStr(), Ref: baseRef.String()},
		Lock:            LockRecord{Path: relTo(c.Dir, o.Lock.Path), Digest: o.Lock.Digest},
		SourceDateEpoch: o.Epoch.Unix(),
		Source:          SourceRecord{URL: firstNonEmpty(c.Source.URL, o.Git.RemoteURL), Revision: firstNonEmpty(c.Source.Revision, o.Git.Commit)},
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
	for _, b := range base.platforms {
		logf("%s: installing wheels", b.platform)
		img, prec, err := buildPlatform(ctx, o, b, requested, rec)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", b.platform, err)
		}
		plat := b.desc.Platform
		adds = append(adds, mutate.IndexAddendum{Add: plainImage{img}, Descriptor: v1.Descriptor{Platform: plat}})
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

// plainImage keeps go-containerregistry from writing the config media type
// as artifactType in the index descriptor: these are images, not
// artifacts, and BuildKit-built indexes carry no artifactType either.
type plainImage struct{ v1.Image }

func (plainImage) ArtifactType() (string, error) { return "", nil }

type basePlatform struct {
	platform string
	desc     v1.Descriptor
	img      v1.Image
	config   *v1.ConfigFile // set by inspect
	fs       *layer.Tree    // the files keepForBuild keeps, set by inspect
}

// basePlatforms pulls the base by digest and picks the manifest of every
// requested platform.
func basePlatforms(ctx context.Context, rc *registry.Client, ref name.Digest, platforms []string) ([]basePlatform, error) {
	idx, err := rc.Index(ctx, ref)
	if registry.IsNotIndex(err) {
		img, err := rc.Image(ctx, ref)
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read base config: %w", err)
		}
		p := cf.Platform()
		if p == nil || len(platforms) != 1 || p.String() != platforms[0] {
			return nil, errs.Input(fmt.Errorf("base %s is a single-platform image (%v) but platforms are %v; pin the base's multi-platform index digest (harden base resolve) or set platforms to match", ref, p, platforms))
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		d, _ := img.Digest()
		return []basePlatform{{platform: platforms[0], img: img, desc: v1.Descriptor{Digest: d, MediaType: m.MediaType, Platform: p}}}, nil
	}
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read base index: %w", err)
	}
	var out []basePlatform
	for _, want := range platforms {
		wp, err := v1.ParsePlatform(want)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("platform %q: %w", want, err))
		}
		var found *v1.Descriptor
		var have []string
		for i, m := range im.Manifests {
			if m.Platform == nil {
				continue
			}
			have = append(have, m.Platform.String())
			if registry.PlatformMatches(*m.Platform, *wp) {
				found = &im.Manifests[i]
				break
			}
		}
		if found == nil {
			return nil, errs.Input(fmt.Errorf("base %s has no %s manifest (it has %s); remove %s from platforms or choose another base", ref, want, strings.Join(have, ", "), want))
		}
		img, err := idx.Image(found.Digest)
		if err != nil {
			return nil, fmt.Errorf("read base %s manifest: %w", want, err)
		}
		out = append(out, basePlatform{platform: want, desc: *found, img: img})
	}
	return out, nil
}

func buildPlatform(ctx context.Context, o Options, b basePlatform, requested map[string]bool, rec *Record) (v1.Image, *PlatformRecord, error) {
	c, logf := o.Config, o.Log
	fs := b.fs
	t, err := targetOf(c, b.platform, fs, b.config)
	if err != nil {
		return nil, nil, err
	}
	env, target, menv := &t.Python, t.Wheel, t.Env
	var picks []wheels.Pick
	if o.Picks != nil {
		picks = append(picks, o.Picks[b.platform]...)
	} else if picks, err = wheels.Select(ctx, o.Source, o.Lock, target, menv, b.platform); err != nil {
		return nil, nil, err
	}
	sort.Slice(picks, func(i, j int) bool { return picks[i].Req.Key < picks[j].Req.Key })

	wheelTree := layer.New()
	prec := &PlatformRecord{Platform: b.platform, BaseDigest: b.desc.Digest.String(), Python: *env}
	scheme := wheel.Scheme{Purelib: env.Purelib, Platlib: env.Platlib, Scripts: env.Scripts, Data: env.Data, Headers: env.Headers}
	for _, p := range picks {
		sum, err := lockedHash(p)
		if err != nil {
			return nil, nil, err
		}
		data, err := o.Cache.Fetch(ctx, o.Source, p.File, sum)
		if err != nil {
			return nil, nil, err
		}
		inst, err := wheel.Install(bytes.NewReader(data), int64(len(data)), p.File.Filename, wheelTree, wheel.InstallOptions{
			Scheme: scheme, Interpreter: env.Interpreter, Requested: requested[p.Req.Key], Installer: "harden"})
		if err != nil {
			return nil, nil, errs.Input(fmt.Errorf("install %s: %w", p.File.Filename, err))
		}
		for _, w := range inst.Warnings {
			logf("%s: warning: %s: %s", b.platform, p.File.Filename, w)
		}
		if !sameName(inst.Name, p.Req.Name) {
			return nil, nil, errs.Input(fmt.Errorf("%s declares project %q in its METADATA but the lock pins %q; the file is mislabelled: remove it from the index", p.File.Filename, inst.Name, p.Req.Name))
		}
		prec.Wheels = append(prec.Wheels, WheelRecord{Name: p.Req.Key, Version: p.Req.Version, Filename: p.File.Filename, SHA256: sum, URL: p.File.URL})
	}
	if err := shadowBaseDists(fs, wheelTree, scheme, picks); err != nil {
		return nil, nil, err
	}
	userTree, home, err := userLayer(fs, c.User)
	if err != nil {
		return nil, nil, errs.Input(err)
	}
	mt := types.OCILayer
	if b.desc.MediaType == types.DockerManifestSchema2 {
		mt = types.DockerLayer
	}
	userLayer, err := userTree.Layer(o.Epoch, mt)
	if err != nil {
		return nil, nil, err
	}
	wheelLayer, err := wheelTree.Layer(o.Epoch, mt)
	if err != nil {
		return nil, nil, err
	}
	created := v1.Time{Time: o.Epoch}
	img, err := mutate.Append(b.img,
		mutate.Addendum{Layer: userLayer, History: v1.History{Created: created, CreatedBy: fmt.Sprintf("harden: user %s (%d:%d)", c.User.Name, c.User.UID, c.User.GID), Comment: "harden"}},
		mutate.Addendum{Layer: wheelLayer, History: v1.History{Created: created, CreatedBy: fmt.Sprintf("harden: install %d locked wheels (lock %s)", len(picks), o.Lock.Digest), Comment: "harden"}},
	)
	if err != nil {
		return nil, nil, fmt.Errorf("append layers: %w", err)
	}
	for _, l := range []v1.Layer{userLayer, wheelLayer} {
		d, err := l.DiffID()
		if err != nil {
			return nil, nil, fmt.Errorf("layer diff id: %w", err)
		}
		prec.AppLayers = append(prec.AppLayers, d.String())
	}
	ncf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	ncf = ncf.DeepCopy()
	ncf.Created = created
	ncf.Config.User = fmt.Sprintf("%d:%d", c.User.UID, c.User.GID)
	ncf.Config.Entrypoint = append([]string(nil), c.Entrypoint...)
	ncf.Config.Cmd = append([]string(nil), c.Cmd...)
	ncf.Config.WorkingDir = firstNonEmpty(c.WorkingDir, home)
	ncf.Config.Env = mergeEnv(ncf.Config.Env, c.Env, home)
	ncf.Config.Labels = labels(ncf.Config.Labels, c, rec, b.desc.Digest.String(), o.Epoch)
	img, err = mutate.ConfigFile(img, ncf)
	if err != nil {
		return nil, nil, fmt.Errorf("set image config: %w", err)
	}
	if b.desc.MediaType == types.DockerManifestSchema2 {
		img = mutate.MediaType(img, types.DockerManifestSchema2)
	} else {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	return img, prec, nil
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

func labels(base map[string]string, c *config.Config, rec *Record, baseDigest string, epoch time.Time) map[string]string {
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
