package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/flagcheck"
)

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$`)
	tagRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	userRE    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// linuxArches are the architectures harden can target, with the variants
// each accepts ("" = none).
var linuxArches = map[string][]string{
	"amd64":    {""},
	"arm64":    {"", "v8"},
	"arm":      {"", "v5", "v6", "v7"},
	"386":      {""},
	"ppc64le":  {""},
	"s390x":    {""},
	"riscv64":  {""},
	"loong64":  {""},
	"mips64le": {""},
}

// failOnLevels are the values of scan.failOn, least severe first; harden
// scan --fail-on accepts the same (scan.ParseSeverity).
var failOnLevels = []string{"negligible", "low", "medium", "high", "critical"}

// Validate checks c and returns every problem at once (errors.Join), each
// an *Error naming the file, the field and the fix.
func (c *Config) Validate() error { return c.validate(nil) }

// validate is Validate; present (see checker) names the fields the file
// sets, so that a field written as 0 is refused where leaving it out
// means a default or "off". A nil present treats zero as left out.
func (c *Config) validate(present map[string]bool) error {
	v := &validator{path: c.Path}

	switch c.Storage {
	case "", "both", "referrers", "legacy":
	default:
		v.add("storage", fmt.Sprintf("%q is not a storage layout", c.Storage), "use both, referrers or legacy")
	}
	if !slices.Contains(failOnLevels, c.Scan.FailOn) {
		v.add("scan.failOn", fmt.Sprintf("%q is not a severity", c.Scan.FailOn), "use negligible, low, medium, high or critical (the lowest severity that fails)")
	}
	// Left out, both ages mean something (the default, no scan required);
	// written as 0 they would quietly mean the same, so they are refused.
	if d := c.Scan.MaxDBAge.Duration; d < 0 || (d == 0 && present["scan.maxDBAge"]) {
		v.add("scan.maxDBAge", fmt.Sprintf("%s is not a positive duration", d), `use a duration such as "120h", or remove the field for the default (120h)`)
	}
	if d := c.Scan.MaxAttestationAge.Duration; d < 0 || (d == 0 && present["scan.maxAttestationAge"]) {
		v.add("scan.maxAttestationAge", fmt.Sprintf("%s is not a positive duration", d), `use a duration such as "168h", or remove the field to not require a signed scan in admission policies`)
	}
	for _, f := range []struct {
		name string
		v    Size
		def  string
	}{{"build.wheelLayerThreshold", c.Build.WheelLayerThreshold, "64MiB"}, {"build.maxWheelSize", c.Build.MaxWheelSize, "16GiB"}, {"build.maxInstalledSize", c.Build.MaxInstalledSize, "64GiB"}} {
		if f.v < 0 || (f.v == 0 && present[f.name]) {
			v.add(f.name, fmt.Sprintf("%d is not a positive size", f.v), fmt.Sprintf(`use a size such as %q, or remove the field for the default`, f.def))
		}
	}
	if n := c.Build.MaxWheelLayers; n != nil && (*n < 0 || *n > MaxWheelLayersLimit) {
		v.add("build.maxWheelLayers", fmt.Sprintf("%d is outside 0..%d", *n, MaxWheelLayersLimit), "use 0 (all wheels in one layer) up to 64, or remove the field for the default (16)")
	}

	switch {
	case c.Name == "":
		v.add("name", "missing", "set name: to the image's name, e.g. myapp")
	case !nameRE.MatchString(c.Name) || len(c.Name) > 128:
		v.add("name", fmt.Sprintf("%q is not a valid name", c.Name), "use lowercase letters, digits, '.', '_' and '-', e.g. myapp")
	}
	switch {
	case c.Version == "":
		v.add("version", "missing", `set version: to the release, e.g. "4.3.0-r1"`)
	case !tagRE.MatchString(c.Version):
		v.add("version", fmt.Sprintf("%q cannot be an image tag", c.Version), `use letters, digits, '.', '_' and '-' (at most 128), e.g. "4.3.0-r1"`)
	}
	c.validateRepository(v)
	c.validateBase(v)
	c.validatePlatforms(v)

	if c.Requirements == "" {
		v.add("requirements", "empty", "name the requirements file, e.g. requirements.in")
	}
	if c.Lock == "" {
		v.add("lock", "empty", "name the lock file, e.g. requirements.lock")
	}
	if err := checkHTTPURL(c.Index.URL); err != nil {
		v.add("index.url", err.Error(), "use the index's https URL, e.g. "+DefaultIndexURL)
	}
	v.absPath("python.interpreter", c.Python.Interpreter, "/usr/local/bin/python3.12")
	v.absPath("python.sitePackages", c.Python.SitePackages, "/usr/local/lib/python3.12/site-packages")
	v.absPath("python.scripts", c.Python.Scripts, "/usr/local/bin")

	c.validateUser(v)

	// Left out, the build derives it; written empty, it is a mistake.
	if len(c.Entrypoint) == 0 && present["entrypoint"] {
		v.add("entrypoint", "empty", fmt.Sprintf("name the program to run, e.g. entrypoint: [%s], or remove the line to use the console script of the top-level requirement", nonEmpty(c.Name, "app")))
	}
	for i, e := range c.Entrypoint {
		if e == "" {
			v.add(fmt.Sprintf("entrypoint[%d]", i), "empty", "remove the empty entry")
		}
	}
	for _, k := range sortedKeys(c.Env) {
		if !envNameRE.MatchString(k) {
			v.add("env."+k, fmt.Sprintf("%q is not a valid environment variable name", k), "use letters, digits and '_', not starting with a digit")
		}
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		v.add("workingDir", fmt.Sprintf("%q is not absolute", c.WorkingDir), "use an absolute path such as /home/"+nonEmpty(c.User.Name, "app"))
	}
	for _, k := range sortedKeys(c.Labels) {
		if strings.TrimSpace(k) == "" {
			v.add("labels", "a label has an empty key", "give every label a key such as org.opencontainers.image.title")
		}
	}
	if c.Source.URL != "" {
		if u, err := url.Parse(c.Source.URL); err != nil || u.Scheme == "" || u.Host == "" {
			v.add("source.url", fmt.Sprintf("%q is not an absolute URL", c.Source.URL), "use the repository's URL, e.g. https://github.com/example/"+nonEmpty(c.Name, "app"))
		}
	}
	c.validateSmoke(v)
	c.validateTestRun(v)
	c.validateUpstream(v, present)
	return errors.Join(v.errs...)
}

// validateTestRun checks test: and run:.
func (c *Config) validateTestRun(v *validator) {
	if a := c.Test.DefaultArgs; a != nil {
		for i, s := range *a {
			if strings.ContainsRune(s, 0) {
				v.add(fmt.Sprintf("test.defaultArgs[%d]", i), "contains a NUL byte", "remove it")
			}
		}
	}
	for i, s := range c.Run.Args {
		if strings.ContainsAny(s, "\r\n\x00") {
			v.add(fmt.Sprintf("run.args[%d]", i), "contains a line break or NUL byte", "write the argument on one line: it becomes part of a one-line kubectl run command")
		}
	}
	for _, k := range sortedKeys(c.Run.Env) {
		if !envNameRE.MatchString(k) {
			v.add("run.env."+k, fmt.Sprintf("%q is not a valid environment variable name", k), "use letters, digits and '_', not starting with a digit")
		}
		if strings.ContainsAny(c.Run.Env[k], "\r\n\x00") {
			v.add("run.env."+k, "the value contains a line break or NUL byte", "write the value on one line: it becomes part of a one-line kubectl run command")
		}
	}
}

type validator struct {
	path string
	errs []error
}

func (v *validator) add(field, problem, fix string) {
	v.errs = append(v.errs, &Error{Path: v.path, Field: field, Problem: problem, Fix: fix})
}

func (v *validator) absPath(field, p, example string) {
	if p != "" && !path.IsAbs(p) {
		v.add(field, fmt.Sprintf("%q is not absolute", p), "use an absolute path in the image, e.g. "+example)
	}
}

func (c *Config) validateRepository(v *validator) {
	r := c.Repository
	last := r[strings.LastIndex(r, "/")+1:]
	switch {
	case r == "":
		v.add("repository", "missing", "set repository: to where releases go, e.g. ghcr.io/example/"+nonEmpty(c.Name, "app"))
	case strings.Contains(r, "@"):
		v.add("repository", fmt.Sprintf("%q contains a digest", r), fmt.Sprintf("remove it: use %s", r[:strings.Index(r, "@")]))
	case strings.Contains(last, ":") && strings.Contains(r, "/"):
		v.add("repository", fmt.Sprintf("%q contains a tag", r), fmt.Sprintf("remove it: use %s (harden tags releases itself)", r[:strings.LastIndex(r, ":")]))
	default:
		if _, err := name.NewRepository(r); err != nil {
			v.errs = append(v.errs, &Error{Path: v.path, Field: "repository", Problem: fmt.Sprintf("%q is not a valid repository: %v", r, err),
				Fix: "use registry/namespace/name in lowercase, e.g. ghcr.io/example/app", Err: err})
		}
	}
}

func (c *Config) validateBase(v *validator) {
	b := c.Base
	if b == "" {
		v.add("base", "missing", `set it to a digest-pinned image: run "harden base resolve python:3.12-slim" and use python:3.12-slim@sha256:<digest>`)
		return
	}
	if !strings.Contains(b, "@") {
		v.add("base", fmt.Sprintf("%q has no digest", b), fmt.Sprintf(`pin it by digest: run "harden base resolve %s" and use %s@sha256:<digest>`, b, b))
		return
	}
	if _, err := name.NewDigest(b); err != nil {
		ref := b[:strings.Index(b, "@")]
		v.errs = append(v.errs, &Error{Path: v.path, Field: "base", Problem: fmt.Sprintf("%q is not a valid digest reference: %v", b, err),
			Fix: fmt.Sprintf(`pin it by digest: run "harden base resolve %s" and use %s@sha256:<digest>`, ref, ref), Err: err})
	}
}

func (c *Config) validatePlatforms(v *validator) {
	if len(c.Platforms) == 0 {
		v.add("platforms", "empty", "list at least one platform, e.g. platforms: [linux/amd64]")
	}
	seen := map[string]bool{}
	for i, p := range c.Platforms {
		field := fmt.Sprintf("platforms[%d]", i)
		parts := strings.Split(p, "/")
		if len(parts) < 2 || len(parts) > 3 {
			v.add(field, fmt.Sprintf("%q is not os/arch[/variant]", p), "write it like linux/amd64 or linux/arm/v7")
			continue
		}
		if parts[0] != "linux" {
			v.add(field, fmt.Sprintf("%q: only linux images are supported", p), "use linux/<arch>, e.g. linux/amd64")
			continue
		}
		variants, ok := linuxArches[parts[1]]
		if !ok {
			v.add(field, fmt.Sprintf("%q: unknown architecture %q", p, parts[1]), "use one of "+strings.Join(sortedKeys(linuxArches), ", "))
			continue
		}
		variant := ""
		if len(parts) == 3 {
			variant = parts[2]
		}
		okVariant := false
		for _, want := range variants {
			okVariant = okVariant || want == variant
		}
		if !okVariant {
			v.add(field, fmt.Sprintf("%q: %s has no variant %q", p, parts[1], variant), fmt.Sprintf("use linux/%s or one of its variants %s", parts[1], strings.Join(variants[1:], ", ")))
			continue
		}
		if seen[p] {
			v.add(field, fmt.Sprintf("%q is listed twice", p), "remove the duplicate")
		}
		seen[p] = true
	}
}

func (c *Config) validateUser(v *validator) {
	u := c.User
	switch {
	case u.Name == "":
		v.add("user.name", "empty", "name the runtime user, e.g. "+nonEmpty(c.Name, "app"))
	case u.Name == "root":
		v.add("user.name", "runtime user must be non-root", "use an unprivileged user such as "+nonEmpty(c.Name, "app"))
	case !userRE.MatchString(u.Name):
		v.add("user.name", fmt.Sprintf("%q is not a valid user name", u.Name), "use lowercase letters, digits, '_' and '-' (at most 32), starting with a letter")
	}
	switch {
	case u.UID <= 0:
		v.add("user.uid", fmt.Sprintf("%d: runtime user must be non-root", u.UID), fmt.Sprintf("use an unprivileged id such as %d", DefaultUID))
	case u.UID > flagcheck.MaxID:
		v.add("user.uid", fmt.Sprintf("%d is above %d, the largest uid Kubernetes accepts", u.UID, flagcheck.MaxID), fmt.Sprintf("use an unprivileged id such as %d", DefaultUID))
	}
	switch {
	case u.GID <= 0:
		v.add("user.gid", fmt.Sprintf("%d: runtime user must be non-root", u.GID), fmt.Sprintf("use an unprivileged group id such as %d", DefaultGID))
	case u.GID > flagcheck.MaxID:
		v.add("user.gid", fmt.Sprintf("%d is above %d, the largest gid Kubernetes accepts", u.GID, flagcheck.MaxID), fmt.Sprintf("use an unprivileged group id such as %d", DefaultGID))
	}
	if u.Home == "" || !path.IsAbs(u.Home) {
		v.add("user.home", fmt.Sprintf("%q is not an absolute path", u.Home), "use e.g. /home/"+nonEmpty(u.Name, "app"))
	}
}

func (c *Config) validateSmoke(v *validator) {
	seen := map[string]int{}
	for i, t := range c.Smoke {
		field := fmt.Sprintf("smoke[%d]", i)
		if t.Name == "" {
			v.add(field+".name", "missing", "give every smoke test a name, e.g. prints its version")
		} else if first, dup := seen[t.Name]; dup {
			v.add(field+".name", fmt.Sprintf("%q is also the name of smoke[%d]", t.Name, first), "give every smoke test its own name")
		} else {
			seen[t.Name] = i
		}
		for j, e := range t.Entrypoint {
			if e == "" {
				v.add(fmt.Sprintf("%s.entrypoint[%d]", field, j), "empty", "remove the empty entry")
			}
		}
		if t.Expect.ExitCode < 0 || t.Expect.ExitCode > 255 {
			v.add(field+".expect.exitCode", fmt.Sprintf("%d is not an exit code", t.Expect.ExitCode), "use 0 to 255")
		}
		for _, f := range [][2]string{{"stdoutRegexp", t.Expect.StdoutRegexp}, {"stderrRegexp", t.Expect.StderrRegexp}} {
			if f[1] == "" {
				continue
			}
			if _, err := regexp.Compile(f[1]); err != nil {
				v.errs = append(v.errs, &Error{Path: v.path, Field: field + ".expect." + f[0], Problem: fmt.Sprintf("does not compile: %v", err),
					Fix: "use Go regexp syntax (RE2), e.g. '^Version: \\d+'", Err: err})
			}
		}
		for _, k := range sortedKeys(t.Env) {
			if !envNameRE.MatchString(k) {
				v.add(field+".env."+k, fmt.Sprintf("%q is not a valid environment variable name", k), "use letters, digits and '_', not starting with a digit")
			}
		}
		if t.Timeout.Duration <= 0 {
			v.add(field+".timeout", fmt.Sprintf("%s is not positive", t.Timeout.Duration), `use a positive duration such as "30s"`)
		}
	}
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

func nonEmpty(s, fallback string) string {
	if s != "" {
		return s
	}
	return fallback
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
