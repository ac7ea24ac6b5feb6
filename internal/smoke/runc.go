package smoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runcRT runs each test as a fresh runc container over one unpacked,
// read-only rootfs, with no network and no capabilities.
type runcRT struct {
	bin    string
	dir    string // holds rootfs/, bundles and runc state
	rootfs string
}

func newRunc() (*runcRT, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("runc needs root here")
	}
	bin, err := exec.LookPath("runc")
	if err != nil {
		return nil, fmt.Errorf("runc not found on PATH; install it (apt-get install runc)")
	}
	return &runcRT{bin: bin}, nil
}

func (r *runcRT) Name() string { return "runc" }

func (r *runcRT) rootFS() string { return r.rootfs }

func (r *runcRT) Prepare(_ context.Context, img v1.Image) error {
	dir, err := os.MkdirTemp("", "harden-runc-")
	if err != nil {
		return err
	}
	r.dir = dir
	r.rootfs = filepath.Join(dir, "rootfs")
	if err := os.Mkdir(r.rootfs, 0o755); err != nil {
		return err
	}
	return Unpack(img, r.rootfs)
}

func (r *runcRT) Close() error {
	if r.dir == "" {
		return nil
	}
	return os.RemoveAll(r.dir)
}

func (r *runcRT) Run(ctx context.Context, p Process) (*Outcome, error) {
	id := "harden-smoke-" + randHex()
	bundle := filepath.Join(r.dir, id)
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(bundle)
	spec := runtimeSpec(r.rootfs, p)
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return nil, err
	}
	state := filepath.Join(r.dir, "state")
	cctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var stdout, stderr capture
	cmd := exec.CommandContext(cctx, r.bin, "--root", state, "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if p.Stdin != "" {
		cmd.Stdin = strings.NewReader(p.Stdin) // runc passes its stdin to the process
	}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	dur := time.Since(start)
	// Whatever happened, leave no container behind.
	_ = exec.Command(r.bin, "--root", state, "delete", "--force", id).Run()
	if cctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %s", p.Timeout)
	}
	out := &Outcome{Stdout: stdout.String(), Stderr: stderr.String(), Duration: dur}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		out.ExitCode = ee.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("runc: %w: %s", err, stderr.String())
	}
	return out, nil
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runtimeSpec is a locked-down container: read-only root, private
// namespaces including an empty network, no capabilities, no new privileges.
func runtimeSpec(rootfs string, p Process) *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args:            p.Args,
			Env:             p.Env,
			Cwd:             p.Cwd,
			User:            specs.User{UID: uint32(p.UID), GID: uint32(p.GID)},
			NoNewPrivileges: true,
			Capabilities:    &specs.LinuxCapabilities{},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Root:     &specs.Root{Path: rootfs, Readonly: true},
		Hostname: "harden-smoke",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}
