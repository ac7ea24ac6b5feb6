package smoke

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// chrootRT is the last resort: the process runs chrooted into the unpacked
// rootfs with the image's uid/gid, but shares the host's namespaces.
type chrootRT struct {
	dir string
}

func (c *chrootRT) Name() string { return "chroot" }

func (c *chrootRT) rootFS() string { return c.dir }

func (c *chrootRT) Prepare(_ context.Context, img v1.Image) error {
	dir, err := os.MkdirTemp("", "harden-chroot-")
	if err != nil {
		return err
	}
	c.dir = dir
	// MkdirTemp makes 0700 directories; inside the chroot this is "/",
	// which the image's non-root user must be able to traverse.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return Unpack(img, dir)
}

func (c *chrootRT) Close() error {
	if c.dir == "" {
		return nil
	}
	return os.RemoveAll(c.dir)
}

func (c *chrootRT) Run(ctx context.Context, p Process) (*Outcome, error) {
	if len(p.Args) == 0 {
		return nil, errors.New("nothing to run: no entrypoint or args")
	}
	// execve runs inside the chroot without a PATH search: find the
	// program first, as a runtime would.
	r, err := lookup(dirView(c.dir), p.Args[0], p.Cwd, pathOf(p.Env), user{p.UID, p.GID})
	if err != nil {
		return nil, err
	}
	bin := r.Path
	cctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var stdout, stderr capture
	cmd := exec.CommandContext(cctx, bin)
	cmd.Path = bin // resolved inside the chroot by execve, not on the host
	cmd.Args = p.Args
	cmd.Env = p.Env
	cmd.Dir = p.Cwd
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if p.Stdin != "" {
		cmd.Stdin = strings.NewReader(p.Stdin)
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     c.dir,
		Credential: &syscall.Credential{Uid: uint32(p.UID), Gid: uint32(p.GID), Groups: []uint32{}},
		Setpgid:    true,
	}
	start := time.Now()
	err = cmd.Run()
	out := &Outcome{Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(start)}
	if cctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %s", p.Timeout)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		out.ExitCode = ee.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("chroot run %s: %w", bin, err)
	}
	return out, nil
}
