package smoke

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// engineRT runs tests through a docker or podman engine: the image is
// loaded from a tarball under a throwaway tag and removed afterwards.
type engineRT struct {
	bin  string
	tool string
	tag  string
}

func newEngine(ctx context.Context, tool string) (*engineRT, error) {
	bin, err := exec.LookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("%s not found on PATH", tool)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(cctx, bin, "info").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s engine not reachable: %s", tool, firstLine(string(out)))
	}
	return &engineRT{bin: bin, tool: tool}, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (e *engineRT) Name() string { return e.tool }

func (e *engineRT) Prepare(ctx context.Context, img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	e.tag = "harden-smoke.local/image:" + d.Hex[:16]
	tag, err := name.NewTag(e.tag)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "harden-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tb := filepath.Join(dir, "image.tar")
	if err := tarball.WriteToFile(tb, tag, img); err != nil {
		return fmt.Errorf("write image tarball: %w", err)
	}
	if out, err := exec.CommandContext(ctx, e.bin, "load", "-i", tb).CombinedOutput(); err != nil {
		return fmt.Errorf("%s load: %w: %s", e.tool, err, out)
	}
	return nil
}

func (e *engineRT) Close() error {
	if e.tag == "" {
		return nil
	}
	return exec.Command(e.bin, "rmi", "-f", e.tag).Run()
}

// engineArgs builds the run command line: the first arg becomes the
// entrypoint so that the test's argv is exactly p.Args.
func (e *engineRT) engineArgs(p Process) []string {
	args := []string{"run", "--rm", "--network=none", "--read-only", "--tmpfs", "/tmp",
		"--cap-drop=ALL", "--security-opt=no-new-privileges",
		"--user", fmt.Sprintf("%d:%d", p.UID, p.GID), "--workdir", p.Cwd}
	if p.Stdin != "" {
		args = append(args, "--interactive") // keep stdin open to feed it
	}
	for _, kv := range p.Env {
		args = append(args, "--env", kv)
	}
	if e.tool == "podman" {
		args = append(args, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
	}
	args = append(args, "--entrypoint", p.Args[0], e.tag)
	return append(args, p.Args[1:]...)
}

func (e *engineRT) Run(ctx context.Context, p Process) (*Outcome, error) {
	if len(p.Args) == 0 {
		return nil, errors.New("nothing to run: no entrypoint or args")
	}
	cctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var stdout, stderr capture
	cmd := exec.CommandContext(cctx, e.bin, e.engineArgs(p)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if p.Stdin != "" {
		cmd.Stdin = strings.NewReader(p.Stdin)
	}
	start := time.Now()
	err := cmd.Run()
	out := &Outcome{Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(start)}
	if cctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %s", p.Timeout)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		out.ExitCode = ee.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("%s run: %w", e.tool, err)
	}
	return out, nil
}
