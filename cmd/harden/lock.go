package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lockcheck"
	"github.com/harden-dev/harden/internal/resolve"
	"github.com/harden-dev/harden/internal/upstream"
	"github.com/harden-dev/harden/internal/wording"
)

// lockFlags are harden lock's flags.
type lockFlags struct {
	outputFile      string
	wheelDir        string
	indexURL        string
	cacheDir        string
	pythonVersion   string
	glibc           string
	upgrade         bool
	upgradePackages []string
	dryRun          bool
	check           bool
	trustedRoot     string
	offline         bool
}

// upstreamSettings is how the locked files' attestations are found and verified.
func (f *lockFlags) upstreamSettings() upstream.Settings {
	return upstream.Settings{TrustedRoot: f.trustedRoot, Offline: f.offline}
}

func (f *lockFlags) params(g *globals) resolve.Params {
	return resolve.Params{
		ConfigPath: g.config, OutputFile: f.outputFile, WheelDir: f.wheelDir, IndexURL: f.indexURL, CacheDir: f.cacheDir,
		PythonVersion: f.pythonVersion, Glibc: f.glibc, Upgrade: f.upgrade, UpgradePackages: f.upgradePackages,
		DryRun: f.dryRun, Upstream: f.upstreamSettings(), Registry: g.registry(), Log: g.logf,
	}
}

func newLockCmd(g *globals) *cobra.Command {
	var f lockFlags
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Resolve requirements.in into a hash-locked requirements.lock for every platform of the image",
		Long: `Lock resolves requirements.in natively (no pip) against the index or a wheel
directory: one version of every package, with a wheel that fits each platform
of the base image (its CPython and glibc, read from the digest-pinned base, or
given with --python-version and --glibc). It writes a pip-compatible lock with
the sha256 of every fitting wheel. Pins of the existing lock are kept unless
--upgrade or --upgrade-package NAME asks to move them.

With --check it writes nothing and checks the existing lock instead: for
every platform, each requirement of requirements.in and of every locked
wheel's METADATA (markers evaluated) is pinned at a version it accepts, and
every pin has a sha256 hash and a wheel. harden release runs this first.
"harden lock diff" compares two locks for review.

Both verify the PEP 740 attestations the index serves for each locked file
(Sigstore, against the public-good root or --trusted-root) and apply the
upstream: policy of harden.yaml; the publisher recorded in the lock is
expected on the next lock unless --upgrade-package names the package. The
lock records each file's publisher and log entry as comments pip ignores.
With --wheel-dir or --offline, attestations come from the cache an earlier
lock against the index filled (docs/upstream.md).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.configErr != nil {
				return g.configErr
			}
			if f.check {
				return runLockCheck(cmd, g, &f)
			}
			rep, err := resolve.Run(cmd.Context(), f.params(g))
			if err != nil {
				return err
			}
			return g.emit(rep, func(w io.Writer) { writeLockReport(w, rep) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.outputFile, "output-file", "", "lock file to write, or to check (default: lock: in harden.yaml)")
	fl.StringVar(&f.wheelDir, "wheel-dir", "", "resolve against the wheels in this directory instead of an index (offline)")
	fl.StringVar(&f.indexURL, "index-url", "", "PEP 503/691 simple index (default: requirements.in's, the lock's, the config's, then PyPI)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "wheel cache, content-addressed by sha256 (default: user cache dir)")
	fl.StringVar(&f.pythonVersion, "python-version", "", "CPython version of the base, e.g. 3.11.2 (with --glibc: do not inspect the base)")
	fl.StringVar(&f.glibc, "glibc", "", "glibc version of the base, e.g. 2.36 (with --python-version)")
	fl.BoolVar(&f.upgrade, "upgrade", false, "move every package to its newest fitting version")
	fl.StringArrayVar(&f.upgradePackages, "upgrade-package", nil, "move only this package (repeatable); others keep their pins where they can")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the lock instead of writing it")
	fl.BoolVar(&f.check, "check", false, "change nothing: check that the lock is complete and consistent for every platform (exit 1 if not)")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted root JSON the attestations are verified against (default: public good via TUF)")
	fl.BoolVar(&f.offline, "offline", false, "no network: resolve from --wheel-dir, attestations from the cache only, trusted root from --trusted-root or the TUF cache")
	cmd.AddCommand(newLockDiffCmd(g))
	return cmd
}

// runLockCheck is harden lock --check.
func runLockCheck(cmd *cobra.Command, g *globals, f *lockFlags) error {
	fl := cmd.Flags()
	for _, n := range []string{"upgrade", "upgrade-package", "dry-run"} {
		if fl.Changed(n) {
			return errs.Input(fmt.Errorf("--check changes nothing; drop --%s", n))
		}
	}
	pr, err := g.load(cmd.Context(), f.outputFile)
	if err != nil {
		return err
	}
	up := f.upstreamSettings()
	rep, err := lockcheck.Run(cmd.Context(), lockcheck.Params{Project: pr, WheelDir: f.wheelDir, IndexURL: f.indexURL, CacheDir: f.cacheDir,
		PythonVersion: f.pythonVersion, Glibc: f.glibc, Registry: g.registry(), Upstream: &up})
	if err != nil {
		return err
	}
	if err := g.emit(rep, func(w io.Writer) { rep.WriteText(w) }); err != nil {
		return err
	}
	return rep.Err()
}

func writeLockReport(w io.Writer, rep *resolve.Report) {
	if rep.Lock != "" {
		fmt.Fprint(w, rep.Lock)
	}
	for _, s := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	for _, c := range rep.Changes {
		fmt.Fprintln(w, c)
	}
	if rep.Upstream != nil {
		rep.Upstream.WriteText(w)
	}
	verb := "wrote"
	if !rep.Written {
		verb = "would write"
	}
	fmt.Fprintf(w, "%s %s: %s for %s, %d changed\n", verb, rep.Path, wording.Count(rep.Packages, "package"), strings.Join(rep.Platforms, ", "), len(rep.Changes))
}
