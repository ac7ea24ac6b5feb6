package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/scaffold"
)

func newInitCmd(g *globals) *cobra.Command {
	var o scaffold.Options
	var cacheDir string
	cmd := &cobra.Command{
		Use:   "init REQUIREMENT",
		Short: "Start a harden project for a Python app: harden.yaml, requirements, lock, .gitignore, CI workflow",
		Long: `Init writes a new project for one Python app into --dir: harden.yaml (with a
schema modeline for editors, and comments saying what to fill in),
requirements.in with REQUIREMENT, requirements.lock when the wheels can be
reached (--wheel-dir, --index-url, or the default index), a .gitignore that
ignores dist/, and the GitHub Actions release workflow.

A --base given by tag is pinned to its digest, as harden base resolve does
(exit 3 when its registry cannot be reached). Init replaces no file unless
--force (an existing .gitignore only gains its dist/ line), and writes all
files or none.`,
		Example: `  harden init "sqlparse==0.4.2" --entrypoint sqlformat --repository ghcr.io/example/sqlformat
  harden init pygments --base python:3.12-slim-bookworm --dir pygmentize`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Requirement, o.Harden = a[0], g.build
			lk := scaffold.ResolveLocker{Registry: g.registry(), WheelDir: o.WheelDir, IndexURL: o.IndexURL, CacheDir: cacheDir, Log: g.logf}
			res, err := scaffold.Init(cmd.Context(), o, g.registry(), lk)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { writeInit(w, res) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", ".", "directory to write the project into (created if missing)")
	f.StringVar(&o.Entrypoint, "entrypoint", "", "program the image runs (default: the requirement's console script, found at build)")
	f.StringVar(&o.Base, "base", scaffold.DefaultBase, "base image, IMAGE:TAG (pinned to its digest) or IMAGE@sha256:DIGEST")
	f.StringVar(&o.Repository, "repository", "", "where releases go, e.g. ghcr.io/OWNER/APP (default: a placeholder to fill in)")
	f.StringVar(&o.SignerIdentity, "signer-identity", "", "certificate identity (SAN) that signs releases, with --signer-issuer")
	f.StringVar(&o.SignerIssuer, "signer-issuer", "", "OIDC issuer of --signer-identity")
	f.StringVar(&o.WheelDir, "wheel-dir", "", "lock against the wheels in this directory (offline)")
	f.StringVar(&o.IndexURL, "index-url", "", "lock and build from this PEP 503/691 index (written to index.url)")
	f.StringVar(&cacheDir, "cache-dir", "", "wheel cache for the lock (default: user cache dir)")
	f.BoolVar(&o.Force, "force", false, "replace files that exist")
	return cmd
}

func writeInit(w io.Writer, r *scaffold.Result) {
	for _, f := range r.Files {
		fmt.Fprintf(w, "%-8s %s\n", f.Action, f.Path)
	}
	if r.PinnedFrom != "" {
		fmt.Fprintf(w, "base     %s (pinned from %s)\n", r.Base, r.PinnedFrom)
	}
	if r.LockSkipped != "" {
		fmt.Fprintf(w, "no lock: %s\n", r.LockSkipped)
	}
	fmt.Fprintln(w, "\nnext:")
	for _, c := range r.Next {
		fmt.Fprintln(w, "  "+c)
	}
}
