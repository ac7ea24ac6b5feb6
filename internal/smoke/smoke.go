// Package smoke runs an image's smoke tests inside the built image, as the
// image's own user and entrypoint, with a real OCI runtime, and checks its
// config statically.
package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
)

// Process is what one test runs.
type Process struct {
	Args    []string // argv; Args[0] is looked up on PATH from Env
	Env     []string // the whole environment: the image's and the test's
	Cwd     string
	UID     int
	GID     int
	Stdin   string // fed to the process, then closed
	Timeout time.Duration
}

// Outcome is what a process did.
type Outcome struct {
	ExitCode int
	Stdout   string
	Stderr   string
	Duration time.Duration
}

// Runtime runs processes in an image. Implementations: runc, chroot,
// docker and podman.
type Runtime interface {
	Name() string
	// Prepare readies img (unpack or load); Close undoes it.
	Prepare(ctx context.Context, img v1.Image) error
	Run(ctx context.Context, p Process) (*Outcome, error)
	Close() error
}

// unpacked is a runtime that runs from a root filesystem on disk, which
// the entrypoint check then reads instead of the image's layers.
type unpacked interface {
	rootFS() string
}

// Check is one named result of harden test.
type Check struct {
	Name     string        `json:"name"`
	Passed   bool          `json:"passed"`
	Reason   string        `json:"reason,omitempty"`
	Detail   string        `json:"detail,omitempty"` // what a passed check found
	ExitCode int           `json:"exitCode,omitempty"`
	Stdout   string        `json:"stdout,omitempty"`
	Duration time.Duration `json:"durationNs,omitempty"`
}

// Report is the result of all checks on one platform image.
type Report struct {
	Platform string  `json:"platform"`
	Digest   string  `json:"digest"`
	Runtime  string  `json:"runtime"`
	Checks   []Check `json:"checks"`
	// Warnings pass, but say the result proves less than it seems to.
	Warnings []string `json:"warnings,omitempty"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if !c.Passed {
			return true
		}
	}
	return false
}

// Options select what to run.
type Options struct {
	Runtime string // "" picks automatically: runc (root), docker, podman, chroot (root)
	UID     int    // expected runtime uid
	Tests   []config.SmokeTest
	// DefaultArgs are the arguments of the one run made when Tests is
	// empty, which must exit 0; nil runs the entrypoint alone.
	DefaultArgs []string
}

// HostImage picks the platform image of idx that this machine can run.
func HostImage(idx v1.ImageIndex) (v1.Image, v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	var have []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		have = append(have, m.Platform.String())
		if m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
			img, err := idx.Image(m.Digest)
			return img, m, err
		}
	}
	return nil, v1.Descriptor{}, errs.Input(fmt.Errorf("the image has no linux/%s manifest (it has %s); smoke tests run on the host's architecture", runtime.GOARCH, strings.Join(have, ", ")))
}

// Run checks img's config and runs every smoke test in it.
func Run(ctx context.Context, img v1.Image, platform string, o Options) (*Report, error) {
	rep, cf, uid, gid, err := checkConfig(img, platform, o.UID)
	if err != nil {
		return nil, err
	}
	if uid == 0 {
		return rep, nil // never run tests as root
	}
	rt, err := pick(ctx, o.Runtime)
	if err != nil {
		return nil, err
	}
	if err := rt.Prepare(ctx, img); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", rt.Name(), err)
	}
	defer rt.Close()
	if err := runChecks(ctx, rt, img, cf, rep, user{uid, gid}, o); err != nil {
		return nil, err
	}
	return rep, nil
}

// checkConfig checks the user and entrypoint of img's config; uid is 0
// when the user check failed.
func checkConfig(img v1.Image, platform string, want int) (*Report, *v1.ConfigFile, int, int, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, nil, 0, 0, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("read image config: %w", err)
	}
	rep := &Report{Platform: platform, Digest: d.String()}
	uid, gid, userCheck := checkUser(cf.Config.User, want)
	rep.Checks = append(rep.Checks, userCheck)
	ep := Check{Name: "config: entrypoint set", Passed: len(cf.Config.Entrypoint) > 0}
	if !ep.Passed {
		ep.Reason = "the image has no entrypoint; set entrypoint: in harden.yaml and rebuild"
	}
	rep.Checks = append(rep.Checks, ep)
	if !userCheck.Passed {
		uid, gid = 0, 0
	}
	return rep, cf, uid, gid, nil
}

// runChecks checks that the entrypoint of cf resolves in img and runs the
// tests (or the default run) as u with rt, prepared with img.
func runChecks(ctx context.Context, rt Runtime, img v1.Image, cf *v1.ConfigFile, rep *Report, u user, o Options) error {
	rep.Runtime = rt.Name()
	cwd := cf.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	entry := cf.Config.Entrypoint
	env := cf.Config.Env
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		env = append(slices.Clone(env), "PATH="+DefaultPath) // as docker and containerd do
	}
	resolves := false
	if len(entry) > 0 {
		var v view
		if up, ok := rt.(unpacked); ok {
			v = dirView(up.rootFS())
		} else {
			tv, err := readView(img)
			if err != nil {
				return err
			}
			v = tv
		}
		c := Check{Name: "image: entrypoint is executable"}
		pathEnv := pathOf(env)
		if r, err := lookup(v, entry[0], cwd, pathEnv, u); err != nil {
			c.Reason = err.Error()
		} else {
			c.Passed, resolves = true, true
			c.Detail = r.Path
			if r.Real != r.Path {
				c.Detail += " -> " + r.Real
			}
		}
		rep.Checks = append(rep.Checks, c)
	}
	type job struct {
		name string
		t    config.SmokeTest
	}
	var jobs []job
	for _, t := range o.Tests {
		jobs = append(jobs, job{"smoke: " + t.Name, t})
	}
	if len(o.Tests) == 0 {
		line := strings.Join(append(append([]string(nil), entry...), o.DefaultArgs...), " ")
		warn := "harden.yaml defines no smoke tests"
		if len(entry) > 0 {
			warn += fmt.Sprintf(", so harden test only ran %q (arguments from test.defaultArgs) and checked that it exits 0", line)
		}
		rep.Warnings = append(rep.Warnings, warn+"; add smoke: tests that check what the image does")
		if resolves {
			// An entrypoint that does not resolve has failed already.
			jobs = append(jobs, job{"default run: " + line, config.SmokeTest{Entrypoint: entry, Args: o.DefaultArgs}})
		}
	}
	for _, j := range jobs {
		t := j.t
		args := append(append([]string(nil), cf.Config.Entrypoint...), cf.Config.Cmd...)
		if len(t.Entrypoint) > 0 || len(t.Args) > 0 {
			ep := cf.Config.Entrypoint
			if len(t.Entrypoint) > 0 {
				ep = t.Entrypoint
			}
			args = append(append([]string(nil), ep...), t.Args...)
		}
		timeout := t.Timeout.Duration
		if timeout <= 0 {
			timeout = config.DefaultSmokeTimeout
		}
		out, err := rt.Run(ctx, Process{Args: args, Env: mergeEnv(env, t.Env), Cwd: cwd, UID: u.uid, GID: u.gid, Stdin: t.Stdin, Timeout: timeout})
		c := Check{Name: j.name}
		if err != nil {
			c.Reason = err.Error()
			rep.Checks = append(rep.Checks, c)
			continue
		}
		c.ExitCode, c.Stdout, c.Duration = out.ExitCode, out.Stdout, out.Duration
		c.Passed, c.Reason = expect(t.Expect, out)
		rep.Checks = append(rep.Checks, c)
	}
	return nil
}

// mergeEnv is env with set applied: a name already there is replaced in
// place, new names follow in sorted order.
func mergeEnv(env []string, set map[string]string) []string {
	out := append([]string(nil), env...)
	for _, k := range slices.Sorted(maps.Keys(set)) {
		kv := k + "=" + set[k]
		i := slices.IndexFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// checkUser parses the config's User ("uid", "uid:gid"); names cannot be
// resolved without the image's passwd, so harden requires numbers.
func checkUser(user string, want int) (int, int, Check) {
	c := Check{Name: fmt.Sprintf("config: non-root user %d", want)}
	u, g, _ := strings.Cut(user, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if g == "" {
		gid, err2 = uid, err1
	}
	switch {
	case user == "":
		c.Reason = "the image has no User, so it runs as root; set user.uid in harden.yaml"
	case err1 != nil || err2 != nil:
		c.Reason = fmt.Sprintf("User %q is not numeric uid:gid; Kubernetes runAsNonRoot needs a numeric uid", user)
	case uid == 0:
		c.Reason = fmt.Sprintf("User %q is root", user)
	case want > 0 && uid != want:
		c.Reason = fmt.Sprintf("User is %d, expected %d", uid, want)
	default:
		c.Passed = true
	}
	return uid, gid, c
}

func expect(e config.Expect, out *Outcome) (bool, string) {
	var problems []string
	if out.ExitCode != e.ExitCode {
		problems = append(problems, fmt.Sprintf("exit code %d, expected %d", out.ExitCode, e.ExitCode))
	}
	problems = append(problems, expectStream("stdout", out.Stdout, e.Stdout, e.StdoutContains, e.StdoutRegexp)...)
	errProblems := expectStream("stderr", out.Stderr, e.Stderr, e.StderrContains, e.StderrRegexp)
	problems = append(problems, errProblems...)
	if len(problems) > 0 {
		if s := strings.TrimSpace(out.Stderr); s != "" && len(errProblems) == 0 {
			problems = append(problems, "stderr: "+clipTail(s))
		}
		return false, strings.Join(problems, "; ")
	}
	return true, ""
}

// expectStream checks one output stream (named stream) against the
// exact, contains and regexp expectations that are set.
func expectStream(stream, text, exact, contains, re string) []string {
	var problems []string
	got := strings.TrimRight(text, "\r\n")
	if exact != "" && got != exact {
		problems = append(problems, fmt.Sprintf("%s %q, expected %q", stream, clip(got), exact))
	}
	if contains != "" && !strings.Contains(text, contains) {
		problems = append(problems, fmt.Sprintf("%s %q does not contain %q", stream, clip(got), contains))
	}
	if re != "" {
		rx, err := regexp.Compile(re)
		if err != nil {
			problems = append(problems, fmt.Sprintf("bad %sRegexp: %v", stream, err))
		} else if !rx.MatchString(text) {
			problems = append(problems, fmt.Sprintf("%s %q does not match %q", stream, clip(got), re))
		}
	}
	return problems
}

// clipTail keeps the end, where a traceback says what went wrong.
func clipTail(s string) string {
	if len(s) > 800 {
		return "…" + s[len(s)-800:]
	}
	return s
}

func clip(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// CheckRuntime rejects a runtime name harden does not know ("" = auto).
func CheckRuntime(name string) error {
	switch name {
	case "", "runc", "chroot", "docker", "podman":
		return nil
	}
	return errs.Input(fmt.Errorf("unknown runtime %q; use runc, docker, podman or chroot", name))
}

// pick returns the named runtime, or the first usable one.
func pick(ctx context.Context, name string) (Runtime, error) {
	root := os.Geteuid() == 0
	switch name {
	case "runc":
		return newRunc()
	case "chroot":
		if !root {
			return nil, errs.Input(errors.New("the chroot runtime needs root"))
		}
		return &chrootRT{}, nil
	case "docker", "podman":
		return newEngine(ctx, name)
	case "":
	default:
		return nil, CheckRuntime(name)
	}
	if root {
		if rt, err := newRunc(); err == nil {
			return rt, nil
		}
	}
	for _, n := range []string{"docker", "podman"} {
		if rt, err := newEngine(ctx, n); err == nil {
			return rt, nil
		}
	}
	if root {
		return &chrootRT{}, nil
	}
	return nil, errs.Input(errors.New("no runtime to run smoke tests: run as root (runc or chroot), or make a docker or podman engine reachable"))
}

// capture collects a bounded amount of a process's output.
type capture struct {
	bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	if c.Len() < 1<<20 {
		c.Buffer.Write(p)
	}
	return len(p), nil
}

// RunOutput runs the smoke tests of cfg against the host-platform image
// of the build output in dir.
func RunOutput(ctx context.Context, idx v1.ImageIndex, cfg *config.Config, rt string) (*Report, error) {
	img, desc, err := HostImage(idx)
	if err != nil {
		return nil, err
	}
	return Run(ctx, img, desc.Platform.String(), Options{Runtime: rt, UID: cfg.User.UID, Tests: cfg.Smoke, DefaultArgs: cfg.TestArgs()})
}

// Usable names the runtime the smoke tests would use (name, or the first
// usable one when name is ""), or says why there is none.
func Usable(ctx context.Context, name string) (string, error) {
	if err := CheckRuntime(name); err != nil {
		return "", err
	}
	rt, err := pick(ctx, name)
	if err != nil {
		return "", err
	}
	return rt.Name(), nil
}
