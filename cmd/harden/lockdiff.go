package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lockdiff"
	"github.com/harden-dev/harden/internal/wording"
)

func newLockDiffCmd(g *globals) *cobra.Command {
	var rev, requirements string
	var failOnRedFlags bool
	cmd := &cobra.Command{
		Use:   "diff OLD NEW | --git REV [LOCK]",
		Short: "Compare two locks for review: version changes and supply-chain red flags",
		Long: `Diff lists the packages added, removed, upgraded and downgraded between two
hash-locked requirements files, and the red flags a reviewer must look at:
files that changed behind an unchanged version (hashes-changed), new packages
that are not direct requirements (new-transitive), pins that now apply to fewer
platforms or list fewer files (coverage-lost), changed markers, and upstream
provenance the locks record: attestations by another Trusted Publisher
(publisher-changed), a package attested before that no longer is
(attestation-lost), a new package without attestation (new-unattested).

With --git REV it compares LOCK (default: the lock harden.yaml names) as of
that git revision with the working copy, e.g. harden lock diff --git main.
requirements.in (from harden.yaml, or --requirements) decides which new
packages are direct; without one, the lock's "# via -r" comments do.

It exits 0 whatever it finds, or 1 on a red flag with --fail-on-red-flags.`,
		Args: args(cobra.RangeArgs(0, 2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			req := lockdiff.Request{Rev: rev, Config: g.config, Requirements: requirements}
			switch {
			case rev != "" && len(a) > 1:
				return errs.Input(fmt.Errorf("with --git, name at most one lock (got %d); see %s --help", len(a), cmd.CommandPath()))
			case rev != "" && len(a) == 1:
				req.Lock = a[0]
			case rev == "" && len(a) != 2:
				return errs.Input(fmt.Errorf("name two lock files (OLD NEW), or a git revision with --git REV; see %s --help", cmd.CommandPath()))
			case rev == "":
				req.Old, req.New = a[0], a[1]
			}
			r, err := lockdiff.Run(cmd.Context(), req)
			if err != nil {
				return err
			}
			if err := g.emit(r, func(w io.Writer) { lockdiff.WriteText(w, r) }); err != nil {
				return err
			}
			if failOnRedFlags && r.Risky() {
				return errs.Check(fmt.Errorf("%s in the lock diff; review them before accepting the lock", wording.Count(len(r.RedFlags), "red flag")))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rev, "git", "", "compare the lock as of this git revision (commit, branch, tag) with the working copy")
	f.StringVar(&requirements, "requirements", "", "requirements.in that decides which new packages are direct (default: the one harden.yaml names)")
	f.BoolVar(&failOnRedFlags, "fail-on-red-flags", false, "exit 1 when the diff has a red flag")
	return cmd
}
