// Command mkfixtures builds the offline test fixtures from Debian packages:
// a bookworm Python base image (OCI layout), pgcli and its dependencies as
// wheels, a hash-locked requirements file and fixture.json. Reruns reuse
// the cached packages and skip outputs whose inputs did not change. It
// needs root, apt-get, apt-cache, dpkg-deb and chroot.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/harden-dev/harden/internal/fixture"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkfixtures:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "", "output directory (default <repo>/.cache/fixtures or $HARDEN_FIXTURES)")
	quiet := flag.Bool("q", false, "print only the summary")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", flag.Args())
	}
	if err := checkHost(); err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		d, err := fixture.Dir()
		if err != nil {
			return err
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	epoch, err := fixture.EpochFromEnv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	logf := func(format string, args ...any) {
		if !*quiet {
			fmt.Printf(format+"\n", args...)
		}
	}
	fx, err := fixture.Build(ctx, fixture.Options{Dir: dir, Epoch: epoch, Logf: logf})
	if err != nil {
		return err
	}
	fmt.Printf("fixtures in %s (%s)\n", fx.Dir, time.Since(start).Round(time.Millisecond))
	fmt.Printf("  base      %s  %v  python %s\n", fx.BaseIndexDigest, fx.Platforms, fx.PythonVersion)
	fmt.Printf("  wheels    %d in %s\n", len(fx.Wheels)+len(fx.ExtraWheels), fx.WheelDir)
	for _, w := range fx.Wheels {
		fmt.Printf("            %s\n", w.File)
	}
	for _, w := range fx.ExtraWheels {
		fmt.Printf("            %s\n", w.File)
	}
	fmt.Printf("  lock      %s\n", fx.Lock)
	return nil
}

// checkHost fails early with a clear message when a needed tool or root
// is missing.
func checkHost() error {
	var missing []string
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg", "dpkg-deb", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing tools %v: run on Debian bookworm with apt and dpkg (PATH=%s)", missing, os.Getenv("PATH"))
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root (chroot for ldconfig, root-owned files)")
	}
	return nil
}
