package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/blob"
	"github.com/harden-dev/harden/internal/verify"
)

func newVerifyBlobCmd(g *globals) *cobra.Command {
	var o blob.VerifyOptions
	var idf verify.IdentityFlags
	var issuerRegexp string
	cmd := &cobra.Command{
		Use:   "verify-blob FILE [--bundle FILE.sigstore.json] (--certificate-identity[-regexp] … --certificate-oidc-issuer[-regexp] … | --github-repo … | --key cosign.pub)",
		Short: "Verify a Sigstore bundle for a file (a release binary, SHA256SUMS, provenance)",
		Long: `Verify-blob checks a Sigstore bundle (v0.1 to v0.3) for FILE: a message
signature over FILE's bytes, or a DSSE envelope whose in-toto statement names
FILE's sha256 as a subject (SLSA provenance of a release). The signer is a
certificate identity and OIDC issuer (regexps are anchored), a GitHub Actions
workflow (--github-repo), or the public key given with --key. The bundle must
have a transparency log entry and, keyless, a trusted time; without
--trusted-root the public-good Sigstore trusted root is fetched through TUF.
Exit 0 when it verifies, 1 when a check fails (the message names it), 2 on
bad input, 3 when TUF cannot be reached.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.File = a[0]
			if o.Bundle == "" {
				o.Bundle = a[0] + ".sigstore.json"
			}
			if err := o.SetIdentity(idf, issuerRegexp); err != nil {
				return err
			}
			res, err := blob.Verify(cmd.Context(), o)
			var fail *blob.Failure
			if errors.As(err, &fail) && g.output == "json" {
				_ = g.emit(struct {
					File     string        `json:"file"`
					Bundle   string        `json:"bundle"`
					Verified bool          `json:"verified"`
					Failure  *blob.Failure `json:"failure"`
				}{o.File, o.Bundle, false, fail}, nil)
			}
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { renderVerifyBlob(w, res) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Bundle, "bundle", "", "Sigstore bundle to verify (default: FILE.sigstore.json)")
	addIdentityFlags(f, &idf)
	f.StringVar(&issuerRegexp, "certificate-oidc-issuer-regexp", "", "OIDC issuer regexp (always anchored ^…$), instead of --certificate-oidc-issuer")
	f.StringVar(&o.KeyPath, "key", "", "public key for key-signed bundles (cosign.pub)")
	f.StringVar(&o.Trust.TrustedRootPath, "trusted-root", "", "Sigstore trusted root JSON (default: public good via TUF)")
	f.BoolVar(&o.Trust.Offline, "offline", false, "no network: trust from --trusted-root or the TUF cache of an earlier online run")
	f.BoolVar(&o.InsecureIgnoreTlog, "insecure-ignore-tlog", false, "accept a bundle without a transparency log entry (keyless: with an RFC 3161 timestamp)")
	return cmd
}

func renderVerifyBlob(w io.Writer, r *blob.Result) {
	fmt.Fprintf(w, "file      %s (sha256:%s)\n", r.File, r.SHA256)
	what := "message signature over the file"
	if r.Content == blob.ContentDSSE {
		what = "in-toto statement " + r.PredicateType + " naming the file"
	}
	fmt.Fprintf(w, "bundle    %s: %s\n", r.Bundle, what)
	fmt.Fprintf(w, "signer    %s\n", r.Signer)
	for _, ts := range r.Timestamps {
		fmt.Fprintf(w, "signed    %s\n", ts.Format(time.RFC3339))
	}
	if r.LogIndex != nil {
		fmt.Fprintf(w, "log       entry %d\n", *r.LogIndex)
	}
	fmt.Fprintln(w, "verified")
}
