package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/verify"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var o verify.Options
	var idf verify.IdentityFlags
	var inputPath string
	cmd := &cobra.Command{
		Use:   "verify IMAGE@sha256:DIGEST | --layout DIR",
		Short: "Prove an image is signed, attested and configured as it claims",
		Long: `Verify checks, for the index and each platform manifest: a signature by the
expected identity (or key); signed SLSA v1 provenance about this digest with the
base pinned by digest and the lock digest; signed SBOMs that agree with the
provenance; a non-root user and an entrypoint. It reads OCI 1.1 referrers (and
the fallback tag) and cosign .sig/.att tags. Exit 0 when every check passes,
1 when one fails.`,
		Args: args(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if len(a) == 1 {
				o.Image = a[0]
			} else if o.Layout == "" {
				return errs.Input(fmt.Errorf("name the image (REPO@sha256:…) or an export (--layout DIR)"))
			}
			o.Registry = g.registry()
			if o.KeyPath == "" {
				id, err := verify.ResolveIdentity(idf)
				if err != nil {
					return err
				}
				o.Identity = id
			}
			rep, err := verify.Verify(cmd.Context(), o)
			if err != nil {
				return err
			}
			if inputPath != "" {
				if err := verify.WriteInput(inputPath, rep.Input); err != nil {
					return err
				}
			}
			if err := g.emit(rep, func(w io.Writer) { renderVerify(w, rep) }); err != nil {
				return err
			}
			if !rep.Verified {
				return errs.Check(fmt.Errorf("%s: %d check(s) failed", rep.Image, len(rep.Failed())))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&idf.Subject, "certificate-identity", "", "exact certificate SAN of the signer")
	f.StringVar(&idf.SubjectRegexp, "certificate-identity-regexp", "", "SAN regexp (always anchored ^…$)")
	f.StringVar(&idf.Issuer, "certificate-oidc-issuer", "", "OIDC issuer in the certificate (required for keyless)")
	f.StringVar(&idf.GitHubRepo, "github-repo", "", "owner/repo whose GitHub Actions workflow signed")
	f.StringVar(&idf.GitHubWorkflow, "github-workflow", "", "workflow path (.github/workflows/release.yml, or owner/repo/.github/workflows/x.yml for a reusable one)")
	f.StringVar(&idf.GitHubRef, "github-ref", "", "git ref the workflow ran on (refs/tags/v1.2.3)")
	f.StringVar(&o.KeyPath, "key", "", "public key for key-based signatures (cosign.pub)")
	f.StringVar(&o.Trust.TrustedRootPath, "trusted-root", "", "Sigstore trusted root JSON (default: public good via TUF)")
	f.BoolVar(&o.Trust.Offline, "offline", false, "no network to TUF or logs; needs --trusted-root")
	f.StringVar(&o.Layout, "layout", "", "verify from an OCI layout written by harden export instead of a registry")
	f.StringSliceVar(&o.Platforms, "platform", nil, "limit platform checks (linux/amd64)")
	f.IntVar(&o.ExpectUID, "expect-uid", 10001, "the uid the image must run as")
	f.StringVar(&o.BuilderID, "builder-id", "", "require this SLSA builder id")
	f.StringVar(&o.SourceRepo, "source-repo", "", "require this source repository in the provenance")
	f.StringVar(&o.SourceRef, "source-ref", "", "require this source revision (with --source-repo)")
	f.StringArrayVar(&o.Policies, "policy", nil, "extra Rego policy file or directory (repeatable; package harden, deny/warn rules)")
	f.BoolVar(&o.NoDefaultPolicy, "no-default-policy", false, "do not apply the shipped policy/pgcli.rego")
	f.StringVar(&inputPath, "policy-input", "", "also write the policy input document to this file")
	f.BoolVar(&o.InsecureIgnoreTlog, "insecure-ignore-tlog", false, "accept signatures without a transparency log entry (legacy storage with Rekor v2, air-gapped keys)")
	return cmd
}

func renderVerify(w io.Writer, rep *verify.Report) {
	fmt.Fprintf(w, "image  %s\n", rep.Image)
	for _, c := range rep.Checks {
		status := "PASS"
		if !c.Passed {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s  %-10s %s  %s\n", status, c.Name, short(c.Subject), c.Reason)
	}
	for _, m := range rep.Warnings {
		fmt.Fprintf(w, "WARN  policy     %s\n", m)
	}
	if rep.Verified {
		fmt.Fprintln(w, "verified")
	} else {
		fmt.Fprintf(w, "NOT verified: %d check(s) failed\n", len(rep.Failed()))
	}
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
