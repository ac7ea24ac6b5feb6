package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/release"
	"github.com/harden-dev/harden/internal/wording"
)

func newReleaseCmd(g *globals) *cobra.Command {
	var o release.Options
	var f signFlags
	var lockFile, progress string
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Run the whole pipeline: lock check, build, test, publish, SBOM, sign, attest, verify, record",
		Long: `Release runs every stage in order: lock check, native build, smoke test, push
by digest, SBOMs (checked against the lock), keyless signing, SLSA v1 provenance
and SBOM attestations, verification with the identity that signed, then tags,
release.json and release.md in --out. A rerun after a failure skips what an
earlier run finished and proved, so the same inputs end in the same digest
with one signature and one attestation of each type. Nothing is signed until
the whole index is in the registry, and tags move only after verification.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(release.ProgressModes(), progress) {
				return errs.Input(fmt.Errorf("--progress %q: use auto, live or plain", progress))
			}
			if f.release != "" {
				return errs.Input(fmt.Errorf("--record is for harden sign and attest; harden release writes <out>/release.json itself"))
			}
			pr, err := g.load(cmd.Context(), lockFile)
			if err != nil {
				return err
			}
			storage := f.storage
			if storage == "" {
				storage = pr.Config.Storage
			}
			if o.Storage, err = attach.ParseStorage(storage); err != nil {
				return err
			}
			f.sp.Interactive = term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
			o.Project, o.Out, o.Signer = pr, f.out, f.sp
			o.Registry, o.HardenVersion = g.registry(), g.build.Version
			o.SourceDateEpoch = os.Getenv("SOURCE_DATE_EPOCH")
			var live *release.Live
			switch {
			case g.output == "json":
				o.Progress = &release.JSON{W: g.stdout}
			case progress == "live" || (progress == "auto" && term.IsTerminal(int(os.Stderr.Fd())) && os.Getenv("CI") == "" && os.Getenv("TERM") != "dumb"):
				live = release.NewLive(g.stderr)
				o.Progress = live
			default:
				o.Progress = &release.Plain{W: g.stderr}
			}
			rec, stages, err := release.Run(cmd.Context(), o)
			if live != nil {
				live.Close() // erases the live lines: the table below replaces them
			}
			if g.output == "json" {
				out := map[string]any{"type": "result", "stages": stages, "dryRun": o.DryRun}
				if rec != nil {
					out["record"] = rec
				}
				if err != nil {
					out["error"] = err.Error()
				}
				if b, jerr := json.Marshal(out); jerr == nil {
					fmt.Fprintln(g.stdout, string(b))
				}
				return err
			}
			fmt.Fprintln(g.stderr)
			release.Table(g.stderr, stages)
			if err != nil || rec == nil {
				return err
			}
			renderRelease(g.stdout, rec)
			return nil
		},
	}
	fl := cmd.Flags()
	f.register(cmd)
	_ = fl.MarkHidden("record")
	fl.StringVar(&lockFile, "lock", "", "lock file (default: lock: in harden.yaml)")
	fl.StringVar(&o.WheelDir, "wheel-dir", "", "take wheels from this directory instead of an index (offline)")
	fl.StringVar(&o.IndexURL, "index-url", "", "PEP 503/691 simple index (default: the lock's, the config's, then PyPI)")
	fl.StringVar(&o.CacheDir, "cache-dir", "", "wheel cache (default: user cache dir)")
	fl.StringVar(&o.UpstreamTrustedRoot, "upstream-trusted-root", "", "Sigstore trusted root JSON the PyPI (PEP 740) attestations the lock records are verified against (default: public good via TUF)")
	fl.StringVar(&o.Scan.DB.Path, "db", "", "scan stage: a local grype v6 database, its directory or an archive (default: scan.db in harden.yaml, else download grype's)")
	fl.StringVar(&o.Runtime, "runtime", "", "smoke-test runtime: runc, docker, podman or chroot (default: first usable)")
	fl.StringVar(&o.Repository, "repo", "", "target repository (default: repository: in harden.yaml)")
	fl.StringSliceVar(&o.Tags, "tag", nil, "tag the index once it has verified (a convenience; deploy by digest)")
	fl.BoolVar(&o.VersionTag, "version-tag", false, "also tag it with the next <app-version>-rN (see harden bump); a version tag never moves")
	fl.StringArrayVar(&o.Pin, "pin", nil, "rewrite references to the repository in this manifest or Dockerfile to the new digest (repeatable)")
	fl.BoolVar(&o.VSA, "attest-vsa", false, "also sign a verification summary (SLSA VSA) of the verify stage's result and attach it (docs/vsa.md)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "run the preflight and show what each other stage would do; change nothing")
	fl.StringVar(&progress, "progress", "auto", "auto (live on a terminal, plain lines in CI), live or plain")
	return cmd
}

func renderRelease(w io.Writer, rec *release.Record) {
	fmt.Fprintf(w, "\nreleased  %s\n", rec.Image)
	for _, p := range rec.Platforms {
		fmt.Fprintf(w, "  %-14s %s\n", p.Platform, p.Digest)
	}
	fmt.Fprintf(w, "signer    %s\n", rec.Signer.String())
	fmt.Fprintf(w, "entries   %s, %s, verified (%s)\n", wording.Count(len(rec.Signatures), "signature"),
		wording.Count(len(rec.Attestations), "attestation"), wording.Count(rec.Verification.Checks, "check"))
	for _, p := range rec.Pinned {
		fmt.Fprintf(w, "pinned    %s (%s)\n", p.Path, wording.Count(p.Changes, "reference"))
	}
	fmt.Fprintf(w, "\nverify:\n  %s\nrun:\n  %s\n", rec.Verification.Command, rec.Deploy.KubectlRun)
}
