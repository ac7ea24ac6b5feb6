// Package config loads harden.yaml, the definition of one hardened image:
// what to build it from, how to run it and how to smoke-test it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	units "github.com/docker/go-units"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"
)

// docs/config-reference.md and docs/harden.schema.json describe these types.
//go:generate go run ./internal/genconfigdoc

// DefaultPath is where commands look for the image definition.
const DefaultPath = "image/harden.yaml"

// Defaults applied to fields left out of harden.yaml.
const (
	DefaultPlatform     = "linux/amd64"
	DefaultRequirements = "requirements.in"
	DefaultLock         = "requirements.lock"
	DefaultIndexURL     = "https://pypi.org/simple/"
	DefaultUID          = 10001
	DefaultGID          = 10001
	DefaultSmokeTimeout = 60 * time.Second
)

// DefaultTestArg is the argument of the one run harden test makes when
// harden.yaml has no smoke tests and no test.defaultArgs.
const DefaultTestArg = "--version"

// Config is a parsed harden.yaml.
type Config struct {
	Path string `yaml:"-"` // file it came from
	Dir  string `yaml:"-"` // its directory; relative paths below resolve against it

	Name         string            `yaml:"name"`         // "pgcli"
	Version      string            `yaml:"version"`      // "4.3.0-r1"
	Repository   string            `yaml:"repository"`   // target repo, no tag or digest
	Base         string            `yaml:"base"`         // "python:3.12-slim@sha256:<64hex>"; a digest is required
	Platforms    []string          `yaml:"platforms"`    // default [linux/amd64]
	Requirements string            `yaml:"requirements"` // default requirements.in
	Lock         string            `yaml:"lock"`         // default requirements.lock
	Index        Index             `yaml:"index"`
	Python       Python            `yaml:"python"`
	User         User              `yaml:"user"`
	Entrypoint   []string          `yaml:"entrypoint,omitempty"` // default: the top-level requirement's console script (docs/test.md)
	Cmd          []string          `yaml:"cmd"`
	Env          map[string]string `yaml:"env"`
	WorkingDir   string            `yaml:"workingDir"`
	Labels       map[string]string `yaml:"labels"`
	Source       Source            `yaml:"source"`
	Smoke        []SmokeTest       `yaml:"smoke"`
	// Storage is where signatures and attestations go: both (default),
	// referrers (OCI 1.1) or legacy (cosign .sig/.att tags).
	Storage string `yaml:"storage"`
	// Signer is who signs releases; admission policies require it.
	Signer Signer `yaml:"signer"`
	// Scan is the vulnerability gate of harden scan and release.
	Scan Scan `yaml:"scan"`
	// Build lays wheels into layers and bounds what they install.
	Build Build `yaml:"build"`
	// Test tunes harden test beyond the smoke tests.
	Test Test `yaml:"test"`
	// Run is the one-off pod a release suggests (release.json
	// deploy.kubectlRun): what follows the image's entrypoint, and its
	// environment.
	Run Run `yaml:"run"`
	// Upstream is the policy harden lock applies to the PEP 740
	// attestations (upstream provenance) of the locked wheels.
	Upstream Upstream `yaml:"upstream"`
}

// Build tunes the image's wheel layers and size limits. Sizes are bytes
// or a number with a binary unit: "64MiB", "16GiB".
type Build struct {
	// WheelLayerThreshold: a wheel installing at least this much gets a
	// layer of its own, which a later release reuses while the wheel is
	// unchanged. Default 64MiB.
	WheelLayerThreshold Size `yaml:"wheelLayerThreshold,omitempty"`
	// MaxWheelLayers: at most this many wheels (the largest) get their
	// own layer; 0 puts every wheel in one layer. Default 16.
	MaxWheelLayers *int `yaml:"maxWheelLayers,omitempty"`
	// MaxWheelSize bounds what one wheel installs. Default 16GiB.
	MaxWheelSize Size `yaml:"maxWheelSize,omitempty"`
	// MaxInstalledSize bounds what all wheels of one platform install
	// together. Default 64GiB.
	MaxInstalledSize Size `yaml:"maxInstalledSize,omitempty"`
}

// Build defaults (docs/build.md explains the layer budget).
const (
	DefaultWheelLayerThreshold = 64 << 20
	DefaultMaxWheelLayers      = 16
	MaxWheelLayersLimit        = 64
	DefaultMaxWheelSize        = 16 << 30
	DefaultMaxInstalledSize    = 64 << 30
)

// BuildSettings is Build with every default applied.
func (c *Config) BuildSettings() Build {
	b := c.Build
	if b.WheelLayerThreshold == 0 {
		b.WheelLayerThreshold = DefaultWheelLayerThreshold
	}
	if b.MaxWheelLayers == nil {
		n := DefaultMaxWheelLayers
		b.MaxWheelLayers = &n
	}
	if b.MaxWheelSize == 0 {
		b.MaxWheelSize = DefaultMaxWheelSize
	}
	if b.MaxInstalledSize == 0 {
		b.MaxInstalledSize = DefaultMaxInstalledSize
	}
	return b
}

// Size is a byte count written in YAML as a number of bytes or with a
// binary unit ("64MiB", "16GiB"; "64M" means the same).
type Size int64

// UnmarshalYAML reads a size such as 67108864 or "64MiB".
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseSize(n)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = Size(v)
	return nil
}

// MarshalYAML writes the size in bytes.
func (s Size) MarshalYAML() (any, error) { return int64(s), nil }

func parseSize(n *yaml.Node) (int64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New(`want a size such as "64MiB"`)
	}
	v, err := units.RAMInBytes(strings.TrimSpace(n.Value))
	if err != nil {
		return 0, fmt.Errorf("%q is not a size", n.Value)
	}
	return v, nil
}

// Scan configures the vulnerability scan and its gate.
type Scan struct {
	// FailOn is the lowest severity that fails: critical, high (default),
	// medium, low or negligible. Only findings with a fix count, unless
	// IncludeUnfixed.
	FailOn         string `yaml:"failOn"`
	IncludeUnfixed bool   `yaml:"includeUnfixed"`
	// VEX are OpenVEX documents whose not_affected statements suppress
	// findings; paths are relative to this file.
	VEX []string `yaml:"vex"`
	// DB is a local grype v6 database (air-gapped); empty downloads
	// grype's current one.
	DB string `yaml:"db"`
	// MaxDBAge refuses an older database; default 120h (5 days). When
	// written, it must be positive.
	MaxDBAge Duration `yaml:"maxDBAge,omitempty"` // omitempty: a written 0s is refused
	// MaxAttestationAge, when set, makes the generated admission
	// policies require a signed scan no older than this, with nothing
	// the gate would fail. When written, it must be positive.
	MaxAttestationAge Duration `yaml:"maxAttestationAge,omitempty"`
}

// DefaultFailOn is the scan gate's default severity.
const DefaultFailOn = "high"

// Signer names a keyless signer: Issuer with Identity (exact SAN) or
// IdentityRegexp, or a GitHub Actions workflow.
type Signer struct {
	Issuer         string       `yaml:"issuer"`
	Identity       string       `yaml:"identity"`
	IdentityRegexp string       `yaml:"identityRegexp"`
	GitHub         GitHubSigner `yaml:"github"`
	// BuilderID, when set, is the SLSA builder id policies require.
	BuilderID string `yaml:"builderId"`
}

// GitHubSigner is a GitHub Actions workflow that signs.
type GitHubSigner struct {
	Repo     string `yaml:"repo"`     // owner/repo
	Workflow string `yaml:"workflow"` // .github/workflows/release.yml
	Ref      string `yaml:"ref"`      // refs/tags/v1.2.3; empty: any ref
}

// Index is the package index wheels come from.
type Index struct {
	URL string `yaml:"url"` // default https://pypi.org/simple/
}

// Python optionally overrides what harden detects in the base image.
type Python struct {
	Interpreter  string `yaml:"interpreter"`
	SitePackages string `yaml:"sitePackages"`
	Scripts      string `yaml:"scripts"`
}

// User is the runtime user the image runs as. Defaults: name = Config.Name,
// uid and gid 10001, home /home/<name>.
type User struct {
	Name string `yaml:"name"`
	UID  int    `yaml:"uid"`
	GID  int    `yaml:"gid"`
	Home string `yaml:"home"`
}

// Source says where the image definition lives, for OCI labels.
type Source struct {
	URL      string `yaml:"url"`
	Revision string `yaml:"revision"`
}

// SmokeTest runs the built image once, as its user, with no network,
// and checks what it did.
type SmokeTest struct {
	// Name identifies the test in reports.
	Name string `yaml:"name"`
	// Entrypoint replaces the image's entrypoint; empty runs the image's.
	Entrypoint []string `yaml:"entrypoint"`
	// Args follow the entrypoint; with neither set, the image's cmd does.
	Args []string `yaml:"args"`
	// Stdin is written to the process's standard input, which is then
	// closed; empty gives it an empty input.
	Stdin string `yaml:"stdin"`
	// Env sets environment variables on top of the image's (a name the
	// image sets is replaced).
	Env map[string]string `yaml:"env"`
	// Expect is what the run must show; at least one field is required.
	Expect Expect `yaml:"expect"`
	// Timeout bounds the run; default 60s.
	Timeout Duration `yaml:"timeout"`
}

// Expect is what a smoke test must observe. ExitCode is always checked
// (default 0); each other field is checked when not empty. Exact
// comparisons ignore trailing line breaks of the output; regular
// expressions use Go's RE2 syntax and match anywhere unless anchored
// ((?m) makes ^ and $ match at line ends).
type Expect struct {
	// ExitCode is the exit status the process must return, 0 to 255.
	ExitCode int `yaml:"exitCode"`
	// Stdout is the whole standard output, exactly.
	Stdout string `yaml:"stdout"`
	// StdoutContains must occur in the standard output.
	StdoutContains string `yaml:"stdoutContains"`
	// StdoutRegexp must match the standard output (Go RE2 syntax).
	StdoutRegexp string `yaml:"stdoutRegexp"`
	// Stderr is the whole standard error, exactly.
	Stderr string `yaml:"stderr"`
	// StderrContains must occur in the standard error.
	StderrContains string `yaml:"stderrContains"`
	// StderrRegexp must match the standard error (Go RE2 syntax).
	StderrRegexp string `yaml:"stderrRegexp"`
}

// Test configures harden test beyond the smoke tests.
type Test struct {
	// DefaultArgs are the arguments of the one run harden test makes
	// when smoke: is empty: it runs the entrypoint with them and requires
	// exit code 0. Default [--version]; [] runs the entrypoint alone.
	DefaultArgs *[]string `yaml:"defaultArgs,omitempty"`
}

// TestArgs is test.defaultArgs with its default applied.
func (c *Config) TestArgs() []string {
	if c.Test.DefaultArgs == nil {
		return []string{DefaultTestArg}
	}
	return append([]string{}, *c.Test.DefaultArgs...)
}

// Run is the suggested "kubectl run" of a release. Values are written
// into a shell command line: "$NAME" and "${NAME}" are left for the
// shell that runs it to expand; everything else is quoted literally.
type Run struct {
	// Args follow the image's entrypoint (after "--"), e.g.
	// [--host, $DB_HOST, --port, "5432"].
	Args []string `yaml:"args"`
	// Env are environment variables of the pod (kubectl run --env),
	// written in name order.
	Env map[string]string `yaml:"env"`
}

// Duration is a time.Duration written in YAML as a string like "30s".
type Duration struct{ time.Duration }

// UnmarshalYAML reads a Go duration string such as "30s" or "2m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration as a string such as "30s".
func (d Duration) MarshalYAML() (any, error) { return d.Duration.String(), nil }

func parseDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New(`want a duration such as "30s"`)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		if _, nerr := strconv.ParseFloat(n.Value, 64); nerr == nil {
			return 0, fmt.Errorf("%q has no unit", n.Value)
		}
		return 0, fmt.Errorf("%q is not a duration", n.Value)
	}
	return v, nil
}

// Error is one problem with a config file. Its text is
// "<file>[:<line>]: [<field>: ]<problem>; <fix>".
type Error struct {
	Path    string
	Line    int    // 0 when unknown
	Field   string // dotted path such as "smoke[1].timeout"; "" for the whole file
	Problem string
	Fix     string
	Err     error // underlying cause, if any
}

func (e *Error) Error() string {
	var b bytes.Buffer
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("; " + e.Fix)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads the config at path, decodes it strictly, applies defaults and
// validates it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Path: path, Problem: "no such file", Fix: "create it, or point --config at the image's harden.yaml", Err: err}
		}
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// yaml.v3 reports "yaml: line N: msg" for syntax errors and "line N: msg"
// inside type errors.
var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse decodes data (read from path) strictly, applies defaults and
// validates the result. Every problem found is returned at once.
func Parse(data []byte, path string) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Path: path, Problem: "the file is empty", Fix: "define at least name, version, repository and base"}
		}
		return nil, syntaxError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Path: path, Line: extra.Line, Problem: "more than one YAML document", Fix: `keep one document: remove the "---" and what follows`}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, &Error{Path: path, Problem: "the file is empty", Fix: "define at least name, version, repository and base"}
		}
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			return nil, &Error{Path: path, Problem: "the file is empty", Fix: "define at least name, version, repository and base"}
		}
		return nil, &Error{Path: path, Line: root.Line, Problem: fmt.Sprintf("the top level is %s, not a mapping of fields", kindName(root)),
			Fix: "write fields such as name:, version:, repository: and base: at the top level"}
	}

	ck := newChecker(path)
	ck.check(root, configType, "")
	if len(ck.errs) > 0 {
		return nil, errors.Join(ck.errs...)
	}

	c := &Config{}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(c); err != nil {
		return nil, syntaxError(path, err)
	}
	c.Path, c.Dir = path, filepath.Dir(path)
	c.dropEmpty()
	c.applyDefaults(ck.present)

	var errs []error
	for i, t := range c.Smoke {
		if !hasExpectation(ck.present, fmt.Sprintf("smoke[%d].expect", i)) {
			errs = append(errs, &Error{Path: path, Line: ck.lines[fmt.Sprintf("smoke[%d]", i)], Field: fmt.Sprintf("smoke[%d]", i),
				Problem: fmt.Sprintf("test %q has no expectation", t.Name),
				Fix:     "add expect: with exitCode, stdout, stdoutContains, stdoutRegexp, stderr, stderrContains or stderrRegexp"})
		}
	}
	if err := c.validate(ck.present); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// hasExpectation reports whether the expect mapping at field sets at
// least one of its fields.
func hasExpectation(present map[string]bool, field string) bool {
	for _, f := range fieldNames(reflect.TypeFor[Expect]()) {
		if present[field+"."+f] {
			return true
		}
	}
	return false
}

// syntaxError turns a yaml.v3 error into "<path>:<line>: <message>".
func syntaxError(path string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		var errs []error
		for _, msg := range te.Errors {
			errs = append(errs, lineError(path, msg, "fix the value's type", err))
		}
		return errors.Join(errs...)
	}
	return lineError(path, err.Error(), "fix the YAML syntax", err)
}

func lineError(path, msg, fix string, err error) error {
	e := &Error{Path: path, Problem: msg, Fix: fix, Err: err}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Problem = m[2]
	}
	return e
}

// dropEmpty turns empty lists and maps into nil, so "cmd: []" and no cmd
// decode alike.
func (c *Config) dropEmpty() {
	nilIfEmpty := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	c.Platforms, c.Entrypoint, c.Cmd = nilIfEmpty(c.Platforms), nilIfEmpty(c.Entrypoint), nilIfEmpty(c.Cmd)
	c.Run.Args = nilIfEmpty(c.Run.Args)
	if len(c.Run.Env) == 0 {
		c.Run.Env = nil
	}
	c.Scan.VEX = nilIfEmpty(c.Scan.VEX)
	if len(c.Env) == 0 {
		c.Env = nil
	}
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	if len(c.Smoke) == 0 {
		c.Smoke = nil
	}
	for i := range c.Smoke {
		c.Smoke[i].Entrypoint, c.Smoke[i].Args = nilIfEmpty(c.Smoke[i].Entrypoint), nilIfEmpty(c.Smoke[i].Args)
		if len(c.Smoke[i].Env) == 0 {
			c.Smoke[i].Env = nil
		}
	}
}

// ApplyDefaults fills in defaults for zero-valued fields. Parse applies
// them only to fields absent from the file, so an explicit "uid: 0" is
// still refused by Validate.
func (c *Config) ApplyDefaults() { c.applyDefaults(nil) }

// applyDefaults sets each default whose field is absent; with a nil
// present map, "absent" means zero-valued.
func (c *Config) applyDefaults(present map[string]bool) {
	absent := func(field string, zero bool) bool {
		if present == nil {
			return zero
		}
		return !present[field]
	}
	if absent("platforms", len(c.Platforms) == 0) {
		c.Platforms = []string{DefaultPlatform}
	}
	if absent("requirements", c.Requirements == "") {
		c.Requirements = DefaultRequirements
	}
	if absent("lock", c.Lock == "") {
		c.Lock = DefaultLock
	}
	if absent("index.url", c.Index.URL == "") {
		c.Index.URL = DefaultIndexURL
	}
	if absent("user.name", c.User.Name == "") {
		c.User.Name = c.Name
	}
	if absent("user.uid", c.User.UID == 0) {
		c.User.UID = DefaultUID
	}
	if absent("user.gid", c.User.GID == 0) {
		c.User.GID = DefaultGID
	}
	if absent("user.home", c.User.Home == "") && c.User.Name != "" {
		c.User.Home = "/home/" + c.User.Name
	}
	if absent("scan.failOn", c.Scan.FailOn == "") {
		c.Scan.FailOn = DefaultFailOn
	}
	for i := range c.Smoke {
		t := &c.Smoke[i]
		if absent(fmt.Sprintf("smoke[%d].timeout", i), t.Timeout.Duration == 0) {
			t.Timeout.Duration = DefaultSmokeTimeout
		}
	}
}

// Resolve returns rel resolved against the config's directory; absolute
// paths and "" are returned unchanged.
func (c *Config) Resolve(rel string) string {
	if rel == "" || filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(c.Dir, rel)
}

// ScanSettings returns scan: with its paths (vex, db) resolved against
// the config's directory.
func (c *Config) ScanSettings() Scan {
	sc := c.Scan
	sc.VEX = nil
	for _, v := range c.Scan.VEX {
		sc.VEX = append(sc.VEX, c.Resolve(v))
	}
	sc.DB = c.Resolve(c.Scan.DB)
	return sc
}

// BaseRef returns the digest reference of the base image.
func (c *Config) BaseRef() (name.Digest, error) {
	d, err := name.NewDigest(c.Base)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%s: base %q: %w", c.Path, c.Base, err)
	}
	return d, nil
}

// RepositoryRef returns the target repository.
func (c *Config) RepositoryRef() (name.Repository, error) {
	r, err := name.NewRepository(c.Repository)
	if err != nil {
		return name.Repository{}, fmt.Errorf("%s: repository %q: %w", c.Path, c.Repository, err)
	}
	return r, nil
}
