package relversion

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/registry"
)

// Options are the inputs of Next.
type Options struct {
	Config *config.Config
	Lock   *lock.File
	// App is the project whose pin is the app version; "" is the
	// image's name: in harden.yaml.
	App string
	// Offline decides from harden.yaml's version: alone, without asking
	// the registry what was released.
	Offline  bool
	Registry *registry.Client
	// Write rewrites version: in harden.yaml when the next version
	// differs from it.
	Write bool
}

// Result is the decision and why.
type Result struct {
	Current    string `json:"current"` // version: in harden.yaml
	Next       string `json:"next"`
	App        string `json:"app"`
	AppVersion string `json:"appVersion"`
	// LastRelease is the newest <appVersion>-r<N> tag in the repository.
	LastRelease string `json:"lastRelease,omitempty"`
	// UpToDate: Next is LastRelease; there is nothing new to release.
	UpToDate bool     `json:"upToDate"`
	Reason   string   `json:"reason"`
	Changes  []string `json:"changes,omitempty"`
	Written  bool     `json:"written,omitempty"`
}

// Next decides the version of the next release. Online, the last release
// is the highest <appVersion>-r<N> tag of the image's repository, and it is
// compared with the current inputs through what the build records in each
// image: the base manifest digest (org.opencontainers.image.base.digest)
// and the lock digest (in the history of the wheel layer). Other changes
// (harden.yaml settings, harden itself) are not seen; release with a
// version set by hand for those.
func Next(ctx context.Context, o Options) (*Result, error) {
	cfg := o.Config
	cur, err := Parse(cfg.Version)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%s: version: %w", cfg.Path, err))
	}
	app := o.App
	if app == "" {
		app = cfg.Name
	}
	appVersion, err := pinnedVersion(o.Lock, app, o.App == "")
	if err != nil {
		return nil, err
	}
	res := &Result{Current: cur.String(), App: lock.NormalizeName(app), AppVersion: appVersion}
	if o.Offline {
		next := Bump(cur, appVersion, true)
		res.Next = next.String()
		if next.Rev == 1 {
			res.Reason = fmt.Sprintf("%s is now %s (was %s): first revision", res.App, appVersion, cur.App)
		} else {
			res.Reason = fmt.Sprintf("%s is still %s: next revision after %s (offline: the registry was not asked what changed)", res.App, appVersion, cur)
		}
	} else if err := decideOnline(ctx, o, res); err != nil {
		return nil, err
	}
	if _, err := Parse(res.Next); err != nil {
		return nil, errs.Input(fmt.Errorf("next version: %w (the lock pins %s %s)", err, res.App, appVersion))
	}
	if o.Write && res.Next != cfg.Version {
		if err := writeVersion(cfg.Path, res.Next); err != nil {
			return nil, err
		}
		res.Written = true
	}
	return res, nil
}

// pinnedVersion is the one version the lock pins for app, which is the
// image's name: in harden.yaml when byName.
func pinnedVersion(lf *lock.File, app string, byName bool) (string, error) {
	key := lock.NormalizeName(app)
	var versions []string
	for _, r := range lf.Requirements {
		if r.Key == key && !slices.Contains(versions, r.Version) {
			versions = append(versions, r.Version)
		}
	}
	switch len(versions) {
	case 0:
		if byName {
			// harden release --version-tag has no --app: the way out there
			// is a version set by harden bump.
			return "", errs.Input(fmt.Errorf("%s pins no %s (name: in harden.yaml): add it to the requirements and relock; if the app has another name, run harden bump --app NAME --write, then harden release without --version-tag", lf.Path, app))
		}
		return "", errs.Input(fmt.Errorf("%s pins no %s (--app): check the name, or add it to the requirements and relock", lf.Path, app))
	case 1:
	default:
		return "", errs.Input(fmt.Errorf("%s pins %s at several versions (%s) under different markers; the image version needs one", lf.Path, app, strings.Join(versions, ", ")))
	}
	if _, err := pep440.Parse(versions[0]); err != nil {
		return "", errs.Input(fmt.Errorf("%s: %s==%s is not a PEP 440 version", lf.Path, app, versions[0]))
	}
	return versions[0], nil
}

func decideOnline(ctx context.Context, o Options, res *Result) error {
	cfg := o.Config
	repo, err := cfg.RepositoryRef()
	if err != nil {
		return errs.Input(err)
	}
	last, err := lastRelease(ctx, o.Registry, repo, res.AppVersion)
	if err != nil {
		return err
	}
	if last == nil {
		res.Next = Version{App: res.AppVersion, Rev: 1}.String()
		res.Reason = fmt.Sprintf("%s has no release of %s %s yet: first revision", repo, res.App, res.AppVersion)
		return nil
	}
	res.LastRelease = last.String()
	changes, err := changesSince(ctx, o.Registry, repo.Tag(last.String()), cfg, o.Lock)
	if errs.ExitCode(err) == errs.CodeUnreachable {
		return fmt.Errorf("%w; pass --offline to derive the next version from version: in harden.yaml alone", err)
	}
	if err != nil {
		return err
	}
	res.Changes = changes
	next := Bump(*last, res.AppVersion, len(changes) > 0)
	res.Next = next.String()
	if len(changes) == 0 {
		res.UpToDate = true
		res.Reason = fmt.Sprintf("%s is up to date: same %s version, base and lock; nothing to release", last, res.App)
	} else {
		res.Reason = fmt.Sprintf("changed since %s: %s", last, strings.Join(changes, "; "))
	}
	return nil
}

// lastRelease is the highest-revision tag of appVersion in repo, or nil.
func lastRelease(ctx context.Context, rc *registry.Client, repo name.Repository, appVersion string) (*Version, error) {
	tags, err := remote.List(repo, rc.Remote(ctx)...)
	if registry.IsNotFound(err) {
		return nil, nil // no repository yet: nothing released
	}
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("list the tags of %s to find the last release: %w; pass --offline to derive the next version from version: in harden.yaml alone", repo, err))
	}
	var last *Version
	for _, t := range tags {
		v, err := Parse(t)
		if err != nil || !sameApp(v.App, appVersion) {
			continue
		}
		if last == nil || v.Rev > last.Rev {
			last = &v
		}
	}
	return last, nil
}

const baseDigestLabel = "org.opencontainers.image.base.digest"

// lockHistoryRE finds the lock digest in the history entry harden's build
// writes for the wheel layer ("harden: install N locked wheels (lock
// sha256:…)").
var lockHistoryRE = regexp.MustCompile(`^harden: install \d+ locked wheels \(lock (sha256:[0-9a-f]{64})\)$`)

// changesSince compares the released image at tag with the current base
// and lock, and describes every difference.
func changesSince(ctx context.Context, rc *registry.Client, tag name.Tag, cfg *config.Config, lf *lock.File) ([]string, error) {
	d, err := rc.Digest(ctx, tag)
	if err != nil {
		return nil, err
	}
	released, err := rc.Platforms(ctx, tag.Context().Digest(d))
	if err != nil {
		return nil, fmt.Errorf("read release %s: %w", tag, err)
	}
	baseRef, err := cfg.BaseRef()
	if err != nil {
		return nil, errs.Input(err)
	}
	base, err := rc.Platforms(ctx, baseRef)
	if err != nil {
		return nil, fmt.Errorf("read base %s: %w", baseRef, err)
	}

	var changes []string
	seen := map[string]bool{}
	locks := map[string]bool{}
	for _, want := range cfg.Platforms {
		cur, ok := registry.FindPlatform(base, want)
		if !ok {
			return nil, errs.Input(fmt.Errorf("base %s has no %s manifest; fix base: or platforms: in %s", baseRef, want, cfg.Path))
		}
		rel, ok := registry.FindPlatform(released, want)
		if !ok {
			changes = append(changes, fmt.Sprintf("platform %s added", want))
			continue
		}
		seen[rel.Platform.String()] = true
		cf, err := rel.Config(tag.Context())
		if err != nil {
			return nil, err
		}
		switch baseDigest := cf.Config.Labels[baseDigestLabel]; baseDigest {
		case "":
			changes = append(changes, fmt.Sprintf("%s of %s has no %s label, so its base cannot be compared", want, tag.TagStr(), baseDigestLabel))
		case cur.Digest:
		default:
			changes = append(changes, fmt.Sprintf("base changed for %s (%s → %s)", want, short(baseDigest), short(cur.Digest)))
		}
		locks[lockDigest(cf)] = true
	}
	for _, r := range released {
		if !seen[r.Platform.String()] {
			changes = append(changes, fmt.Sprintf("platform %s removed", r.Platform.String()))
		}
	}
	delete(locks, lf.Digest)
	for _, d := range slices.Sorted(maps.Keys(locks)) {
		if d == "" {
			changes = append(changes, fmt.Sprintf("%s records no lock digest, so its lock cannot be compared", tag.TagStr()))
		} else {
			changes = append(changes, fmt.Sprintf("lock changed (%s → %s)", short(d), short(lf.Digest)))
		}
	}
	return changes, nil
}

// lockDigest is the lock an image was built from, or "".
func lockDigest(cf *v1.ConfigFile) string {
	for _, h := range cf.History {
		if m := lockHistoryRE.FindStringSubmatch(h.CreatedBy); m != nil {
			return m[1]
		}
	}
	return ""
}

// short abbreviates a digest for messages.
func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// writeVersion rewrites version: in harden.yaml in place.
func writeVersion(path, version string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	out, _, err := config.SetScalar(data, "version", version)
	if err != nil {
		return errs.Input(fmt.Errorf("%s: %w", path, err))
	}
	return fsutil.ReplaceFile(path, out)
}
