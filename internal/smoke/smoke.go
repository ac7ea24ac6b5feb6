// Package smoke runs an image's smoke tests inside the built image, as the
// image's own user and entrypoint, with a real OCI runtime, and checks its
// config statically.
package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
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
	Env     []string
	Cwd     string
	UID     int
	GID     int
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

// Check is one named result of harden test.
type Check struct {
	Name     string        `json:"name"`
	Passed   bool          `json:"passed"`
	Reason   string        `json:"reason,omitempty"`
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
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	rep := &Report{Platform: platform, Digest: d.String()}
	uid, gid, userCheck := checkUser(cf.Config.User, o.UID)
	rep.Checks = append(rep.Checks, userCheck)
	ep := Check{Name: "config: entrypoint set", Passed: len(cf.Config.Entrypoint) > 0}
	if !ep.Passed {
		ep.Reason = "the image has no entrypoint; set entrypoint in harden.yaml"
	}
	rep.Checks = append(rep.Checks, ep)
	if !userCheck.Passed {
		return rep, nil // never run tests as root
	}
	rt, err := pick(ctx, o.Runtime)
	if err != nil {
		return nil, err
	}
	rep.Runtime = rt.Name()
	if err := rt.Prepare(ctx, img); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", rt.Name(), err)
	}
	defer rt.Close()
	for _, t := range o.Tests {
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
			timeout = time.Minute
		}
		cwd := cf.Config.WorkingDir
		if cwd == "" {
			cwd = "/"
		}
		out, err := rt.Run(ctx, Process{Args: args, Env: cf.Config.Env, Cwd: cwd, UID: uid, GID: gid, Timeout: timeout})
		c := Check{Name: "smoke: " + t.Name}
		if err != nil {
			c.Reason = err.Error()
			rep.Checks = append(rep.Checks, c)
			continue
		}
		c.ExitCode, c.Stdout, c.Duration = out.ExitCode, out.Stdout, out.Duration
		c.Passed, c.Reason = expect(t.Expect, out)
		rep.Checks = append(rep.Checks, c)
	}
	return rep, nil
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
	got := strings.TrimRight(out.Stdout, "\r\n")
	if e.Stdout != "" && got != e.Stdout {
		problems = append(problems, fmt.Sprintf("stdout %q, expected %q", clip(got), e.Stdout))
	}
	if e.StdoutContains != "" && !strings.Contains(out.Stdout, e.StdoutContains) {
		problems = append(problems, fmt.Sprintf("stdout %q does not contain %q", clip(got), e.StdoutContains))
	}
	if e.StdoutRegexp != "" {
		re, err := regexp.Compile(e.StdoutRegexp)
		if err != nil {
			problems = append(problems, fmt.Sprintf("bad stdoutRegexp: %v", err))
		} else if !re.MatchString(out.Stdout) {
			problems = append(problems, fmt.Sprintf("stdout %q does not match %q", clip(got), e.StdoutRegexp))
		}
	}
	if len(problems) > 0 {
		if s := strings.TrimSpace(out.Stderr); s != "" {
			problems = append(problems, "stderr: "+clipTail(s))
		}
		return false, strings.Join(problems, "; ")
	}
	return true, ""
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
	return Run(ctx, img, desc.Platform.String(), Options{Runtime: rt, UID: cfg.User.UID, Tests: cfg.Smoke})
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
