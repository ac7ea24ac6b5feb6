package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/blob"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/gitinfo"
	"github.com/harden-dev/harden/internal/provenance"
)

// The files of a release besides the binaries. Install scripts and CI
// download them by these names.
const (
	SumsFile       = "SHA256SUMS"
	SumsBundle     = "SHA256SUMS.sigstore.json"
	ProvenanceFile = "harden.intoto.sigstore.json"
)

// Options configure one release.
type Options struct {
	Src        string // the checkout to build (module root)
	Out        string // the release directory, replaced as a whole
	Version    string // "" = the tag at HEAD
	Platforms  []string
	AllowDirty bool
	NoSign     bool
	Signer     attest.SignerParams
	Build      builder // nil = goBuild
	Getenv     func(string) string
	Now        func() time.Time
	Log        func(format string, args ...any)
}

// Result lists what a release wrote.
type Result struct {
	Dir      string   `json:"dir"`
	Version  string   `json:"version"`
	Commit   string   `json:"commit"`
	Binaries []string `json:"binaries"`
	Files    []string `json:"files"` // every file, binaries included
	Signer   string   `json:"signer,omitempty"`
}

// Run builds every platform, writes SHA256SUMS and, unless NoSign, signs
// it and the SLSA provenance of the binaries. The release appears in
// o.Out only when all of it is done.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	src, err := filepath.Abs(o.Src)
	if err != nil {
		return nil, err
	}
	info, err := gitinfo.Read(ctx, src)
	if err != nil {
		return nil, err
	}
	if info.Commit == "" {
		return nil, errs.Input(fmt.Errorf("%s is not a git checkout with a commit; a release is built from a commit", src))
	}
	if info.Dirty && !o.AllowDirty {
		return nil, errs.Input(fmt.Errorf("%s has uncommitted changes; commit or stash them (a release is built from its commit), or pass -allow-dirty for a test build", src))
	}
	if o.Version == "" {
		if o.Version, err = tagAt(ctx, src); err != nil {
			return nil, err
		}
	}
	if !versionRE.MatchString(o.Version) {
		return nil, errs.Input(fmt.Errorf("version %q: use letters, digits and . + _ - only, e.g. v1.2.3", o.Version))
	}
	platforms, err := checkPlatforms(o.Platforms)
	if err != nil {
		return nil, err
	}
	if !o.NoSign {
		// Before the builds, so a missing token or key stops the release
		// at once; the certificate itself is fetched after them.
		if _, err := attest.CheckSigner(ctx, o.Signer); err != nil {
			return nil, err
		}
	}
	gover, err := goVersion(ctx, src)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(o.Out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(o.Out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("release directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}

	res := &Result{Dir: o.Out, Version: o.Version, Commit: info.Commit}
	started := o.Now().UTC()
	var bins []provenance.GoBinary
	for _, p := range platforms {
		name := binaryName(o.Version, p)
		o.Log("building %s", name)
		if err := o.Build(ctx, src, p, o.Version, filepath.Join(tmp, name)); err != nil {
			return nil, err
		}
		sum, err := fsutil.SHA256File(filepath.Join(tmp, name))
		if err != nil {
			return nil, err
		}
		bins = append(bins, provenance.GoBinary{Name: name, Platform: p, SHA256: sum})
		res.Binaries = append(res.Binaries, name)
	}
	finished := o.Now().UTC()
	if err := fsutil.WriteFileAtomic(filepath.Join(tmp, SumsFile), checksums(bins), 0o644); err != nil {
		return nil, err
	}
	res.Files = append(slices.Clone(res.Binaries), SumsFile)

	if !o.NoSign {
		builder, err := provenance.DetectBuilder(o.Getenv, o.Version)
		if err != nil {
			return nil, err
		}
		st, err := provenance.GoStatement(provenance.GoBuild{
			Package: mainPackage, Version: o.Version, Flags: buildFlags(o.Version), Env: buildEnv(), GoVersion: gover,
			Source:   provenance.GoSource{URL: info.RemoteURL, Revision: info.Commit, Dirty: info.Dirty},
			Binaries: bins, StartedOn: started, FinishedOn: finished, Builder: builder,
		})
		if err != nil {
			return nil, err
		}
		payload, err := provenance.Marshal(st)
		if err != nil {
			return nil, err
		}
		signer, err := attest.NewSigner(ctx, o.Signer)
		if err != nil {
			return nil, err
		}
		o.Log("signing as %s", signer.Identity())
		if _, err := blob.SignFile(ctx, signer, filepath.Join(tmp, SumsFile), filepath.Join(tmp, SumsBundle)); err != nil {
			return nil, err
		}
		if _, err := blob.SignStatement(ctx, signer, payload, filepath.Join(tmp, ProvenanceFile)); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, SumsBundle, ProvenanceFile)
		res.Signer = signer.Identity().String()
	}
	if err := fsutil.ReplaceDir(tmp, o.Out); err != nil {
		return nil, err
	}
	return res, nil
}

func (o *Options) defaults() {
	if o.Src == "" {
		o.Src = "."
	}
	if o.Out == "" {
		o.Out = "release"
	}
	if len(o.Platforms) == 0 {
		o.Platforms = defaultPlatforms()
	}
	if o.Build == nil {
		o.Build = goBuild
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Signer.Getenv == nil {
		o.Signer.Getenv = o.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
}

// checkPlatforms sorts and checks os/arch pairs.
func checkPlatforms(ps []string) ([]string, error) {
	var out []string
	for _, p := range ps {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok || goos == "" || goarch == "" || strings.ContainsAny(p, " _") || strings.Count(p, "/") != 1 {
			return nil, errs.Input(fmt.Errorf("platform %q: use os/arch, e.g. linux/amd64", p))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// checksums is SHA256SUMS in sha256sum's format, sorted by file name.
func checksums(bins []provenance.GoBinary) []byte {
	bins = slices.Clone(bins)
	slices.SortFunc(bins, func(a, b provenance.GoBinary) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	for _, bin := range bins {
		b.WriteString(bin.SHA256 + "  " + bin.Name + "\n")
	}
	return []byte(b.String())
}

// tagAt is the tag on HEAD: the version of a release.
func tagAt(ctx context.Context, src string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", src, "describe", "--tags", "--exact-match", "HEAD")
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", errs.Input(errors.New("HEAD carries no tag: tag the release commit (git tag -s v1.2.3) or pass -version"))
		}
		return "", fmt.Errorf("git describe: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
