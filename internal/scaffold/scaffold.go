// Package scaffold starts a harden project for one Python app (harden
// init): harden.yaml, requirements.in, the lock, .gitignore and the CI
// workflow, written all together or not at all.
package scaffold

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/buildinfo"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/registry"
)

// DefaultBase is the base image when --base is not given; Init pins it.
const DefaultBase = "python:3.12-slim-bookworm"

// The files Init writes, relative to Options.Dir.
const (
	ConfigFile       = "harden.yaml"
	RequirementsFile = config.DefaultRequirements
	LockFile         = config.DefaultLock
	GitignoreFile    = ".gitignore"
	WorkflowFile     = ".github/workflows/release.yml"
)

// Options are harden init's inputs.
type Options struct {
	Dir         string // where to write; "" is the working directory
	Requirement string // one PEP 508 requirement, e.g. "sqlparse==0.4.2"
	Entrypoint  string // the program the image runs; "" leaves it to the build
	Base        string // image; a tag is pinned to its digest; "" is DefaultBase
	Repository  string // where releases go; "" writes a placeholder
	// SignerIdentity and SignerIssuer name the keyless signer; both or
	// neither.
	SignerIdentity, SignerIssuer string
	WheelDir                     string // lock from these wheels (offline)
	IndexURL                     string // lock from this index, and build from it
	Force                        bool   // replace files that exist
	Harden                       buildinfo.Info
}

// Resolver looks a tag up in its registry (registry.Client).
type Resolver interface {
	Resolve(ctx context.Context, ref string) (*registry.Resolved, error)
}

// Locker resolves the requirements of the harden.yaml at configPath
// into lock text without writing it.
type Locker interface {
	Lock(ctx context.Context, configPath string) (string, error)
}

// Written is one file Init wrote.
type Written struct {
	Path   string `json:"path"`   // relative to Result.Dir
	Action string `json:"action"` // "wrote", "replaced" or "updated"
}

// Result is what Init did.
type Result struct {
	Dir   string    `json:"dir"`
	Files []Written `json:"files"`
	Name  string    `json:"name"`
	Base  string    `json:"base"`
	// PinnedFrom is the tag Base was pinned from; "" when given by digest.
	PinnedFrom string `json:"pinnedFrom,omitempty"`
	Locked     bool   `json:"locked"`
	// LockSkipped says why there is no lock yet.
	LockSkipped string   `json:"lockSkipped,omitempty"`
	Next        []string `json:"next"` // commands to run next
}

// Init writes a new project into o.Dir. It pins the base (a registry it
// cannot reach is exit 3), resolves the lock when the wheels are at hand,
// and writes every file atomically; on any failure nothing is left
// behind. Files that exist are refused (exit 2) unless o.Force, except
// .gitignore, which only gains the dist/ line.
func Init(ctx context.Context, o Options, res Resolver, lk Locker) (*Result, error) {
	if o.Dir == "" {
		o.Dir = "."
	}
	p, err := plan(o)
	if err != nil {
		return nil, err
	}
	if err := p.checkExisting(o); err != nil {
		return nil, err
	}
	r := &Result{Dir: o.Dir, Name: p.Name}
	if p.Base, r.PinnedFrom, err = pinBase(ctx, res, p.Base); err != nil {
		return nil, err
	}
	r.Base = p.Base

	lockText, err := p.lock(ctx, lk)
	switch {
	case err == nil:
		r.Locked = true
		if v := pinnedVersion(lockText, p.key); v != "" {
			p.AppVersion = v
		}
	case errs.ExitCode(err) == errs.CodeUnreachable:
		r.LockSkipped = fmt.Sprintf("locking needs the wheels and the base image, and one could not be reached (%v)", err)
	default:
		return nil, fmt.Errorf("lock %s: %w", o.Requirement, err)
	}

	files, err := p.render(o, lockText)
	if err != nil {
		return nil, err
	}
	if r.Files, err = commit(o.Dir, files, o.Force); err != nil {
		return nil, err
	}
	r.Next = nextCommands(o, r.Locked)
	return r, nil
}

// project is what the files are rendered from.
type project struct {
	Name, key   string // image name, PEP 503 key of the requirement
	UserName    string // "" when the image name is a valid user name
	AppVersion  string // from an exact pin or the lock
	Requirement string
	Base        string
	Repository  string
	Placeholder bool // Repository is a placeholder to fill in
	Entrypoint  string
	IndexURL    string
	Identity    string
	Issuer      string
	SchemaURL   string
}

var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// plan checks the options and derives the project from them.
func plan(o Options) (*project, error) {
	req := strings.TrimSpace(o.Requirement)
	if req == "" || strings.ContainsAny(req, "\n\r") {
		return nil, errs.Input(errors.New(`name one requirement, e.g. harden init "sqlparse==0.4.2"`))
	}
	in, err := lock.ParseInput(strings.NewReader(req+"\n"), "REQUIREMENT")
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%w; give one PEP 508 requirement such as sqlparse==0.4.2", err))
	}
	if len(in.Requirements) != 1 {
		return nil, errs.Input(fmt.Errorf("%q is not one requirement; give one such as sqlparse==0.4.2 (its dependencies are locked with it)", req))
	}
	ir := in.Requirements[0]
	p := &project{Name: ir.Key, key: ir.Key, Requirement: req, Base: o.Base, Repository: o.Repository,
		Entrypoint: o.Entrypoint, IndexURL: o.IndexURL, Identity: o.SignerIdentity, Issuer: o.SignerIssuer,
		SchemaURL: SchemaURL(o.Harden), AppVersion: "0.0.0"}
	if v, ok := strings.CutPrefix(ir.Specifier, "=="); ok && !strings.ContainsAny(v, ",*") {
		p.AppVersion = v
	}
	if !userRE.MatchString(p.Name) {
		p.UserName = "app"
	}
	if p.Base == "" {
		p.Base = DefaultBase
	}
	if err := checkBase(p.Base); err != nil {
		return nil, err
	}
	if p.Repository == "" {
		p.Repository, p.Placeholder = "ghcr.io/example/"+p.Name, true
	}
	if (o.SignerIdentity == "") != (o.SignerIssuer == "") {
		return nil, errs.Input(errors.New("--signer-identity and --signer-issuer go together: give both (the certificate's identity and its OIDC issuer) or neither"))
	}
	if o.WheelDir != "" && o.IndexURL != "" {
		return nil, errs.Input(errors.New("--wheel-dir and --index-url both say where the wheels are; give one"))
	}
	if o.WheelDir != "" {
		if info, err := os.Stat(o.WheelDir); err != nil || !info.IsDir() {
			return nil, errs.Input(fmt.Errorf("--wheel-dir %s is not a directory of wheels", o.WheelDir))
		}
	}
	if strings.ContainsAny(o.Entrypoint, "\n\r") {
		return nil, errs.Input(errors.New("--entrypoint: give the program's name on one line"))
	}
	// Everything the user gave must make a valid harden.yaml; check it
	// with a stand-in digest before asking any registry.
	probe := *p
	if !strings.Contains(probe.Base, "@") {
		probe.Base += "@sha256:" + strings.Repeat("0", 64)
	}
	data, err := probe.config()
	if err != nil {
		return nil, err
	}
	if _, err := config.Parse(data, filepath.Join(o.Dir, ConfigFile)); err != nil {
		return nil, errs.Input(fmt.Errorf("the options do not make a valid harden.yaml: %w", err))
	}
	return p, nil
}

// files lists what Init writes, in order.
func (p *project) files() []string {
	return []string{ConfigFile, RequirementsFile, LockFile, GitignoreFile, WorkflowFile}
}

// checkExisting refuses to replace files without force.
func (p *project) checkExisting(o Options) error {
	if o.Force {
		return nil
	}
	var exist []string
	for _, f := range p.files() {
		if f == GitignoreFile {
			continue // merged, never replaced
		}
		if _, err := os.Lstat(filepath.Join(o.Dir, filepath.FromSlash(f))); err == nil {
			exist = append(exist, filepath.Join(o.Dir, filepath.FromSlash(f)))
		}
	}
	if len(exist) > 0 {
		return errs.Input(fmt.Errorf("%s already exist(s); harden init replaces nothing: move them away, or pass --force to replace them", strings.Join(exist, ", ")))
	}
	return nil
}

// checkBase refuses a --base that is no image reference.
func checkBase(base string) error {
	var err error
	if strings.Contains(base, "@") {
		_, err = name.NewDigest(base)
	} else {
		_, err = name.NewTag(base)
	}
	if err != nil {
		return errs.Input(fmt.Errorf("--base %s: %w; give IMAGE:TAG or IMAGE@sha256:DIGEST", base, err))
	}
	return nil
}

// pinBase returns base pinned by digest, keeping the tag as written
// ("python:3.12-slim@sha256:…"), and the tag it was pinned from.
func pinBase(ctx context.Context, res Resolver, base string) (pinned, from string, err error) {
	if strings.Contains(base, "@") {
		return base, "", nil
	}
	r, err := res.Resolve(ctx, base)
	if err != nil {
		if errs.ExitCode(err) == errs.CodeUnreachable {
			return "", "", errs.Unreachable(fmt.Errorf("pin the base %s to its digest: its registry cannot be reached: %w; retry when it can, or give --base %s@sha256:DIGEST", base, err, base))
		}
		return "", "", fmt.Errorf("pin the base %s to its digest: %w", base, err)
	}
	return base + "@" + r.Digest, base, nil
}

// lock stages harden.yaml and requirements.in in a temporary directory
// and asks lk for the lock.
func (p *project) lock(ctx context.Context, lk Locker) (string, error) {
	tmp, err := os.MkdirTemp("", "harden-init-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	data, err := p.config()
	if err != nil {
		return "", err
	}
	for name, b := range map[string][]byte{ConfigFile: data, RequirementsFile: p.requirementsIn()} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return lk.Lock(ctx, filepath.Join(tmp, ConfigFile))
}

// pinnedVersion is the version the lock pins for key, or "".
func pinnedVersion(lockText, key string) string {
	lf, err := lock.Parse(strings.NewReader(lockText), LockFile)
	if err != nil {
		return ""
	}
	if r, ok := lf.Lookup(key); ok {
		return r.Version
	}
	return ""
}

// nextCommands are what to run after init.
func nextCommands(o Options, locked bool) []string {
	var cd string
	if filepath.Clean(o.Dir) != "." {
		cd = "cd " + shellQuote(o.Dir) + " && "
	}
	src := ""
	switch {
	case o.WheelDir != "":
		src = " --wheel-dir " + shellQuote(o.WheelDir)
	}
	var out []string
	if !locked {
		out = append(out, cd+"harden lock"+src)
	}
	return append(out, cd+"harden release --dry-run"+src)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@=+,-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
