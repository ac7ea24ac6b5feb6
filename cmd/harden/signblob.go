package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/blob"
)

// addSignerFlags adds harden sign's signing flags.
func addSignerFlags(fl *pflag.FlagSet, sp *attest.SignerParams) {
	fl.StringVar(&sp.IdentityToken, "identity-token", "", "OIDC identity token for keyless signing (prefer --identity-token-file)")
	fl.StringVar(&sp.IdentityTokenFile, "identity-token-file", "", "file holding the OIDC identity token")
	fl.StringVar(&sp.KeyPath, "key", "", "cosign-format private key (password in $COSIGN_PASSWORD) instead of keyless")
	fl.StringVar(&sp.TrustedRoot, "trusted-root", "", "Sigstore trusted root JSON (default: public good via TUF)")
	fl.StringVar(&sp.SigningConfig, "signing-config", "", "Sigstore signing config JSON (default: public good via TUF)")
}

func newSignBlobCmd(g *globals) *cobra.Command {
	var sp attest.SignerParams
	var out string
	cmd := &cobra.Command{
		Use:   "sign-blob FILE [--bundle FILE.sigstore.json] [signing flags]",
		Short: "Sign a file into a Sigstore bundle (keyless by default, or --key)",
		Long: `Sign-blob signs FILE's bytes (a message signature, as cosign sign-blob makes)
and writes a Sigstore bundle v0.3, with the transparency log entry and RFC 3161
timestamp the signing config asks for. Keyless signing takes its token as
harden sign does. The bundle is checked against the signer's own identity
before it is written, and written atomically. Verify it with harden verify-blob
or cosign verify-blob --bundle. Files up to 1 GiB are signed (the file is held
in memory); sign a SHA256SUMS of larger ones.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			file := a[0]
			if out == "" {
				out = file + ".sigstore.json"
			}
			if err := blob.CheckSignTarget(file, out); err != nil {
				return err
			}
			sp.Interactive = term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
			signer, err := attest.NewSigner(cmd.Context(), sp)
			if err != nil {
				return err
			}
			g.logf("signing as %s", signer.Identity())
			res, err := blob.SignFile(cmd.Context(), signer, file, out)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "signed %s (sha256:%s) as %s\nwrote  %s\n", res.File, res.SHA256, res.Signer, res.Bundle)
			})
		},
	}
	cmd.Flags().StringVar(&out, "bundle", "", "where to write the bundle (default: FILE.sigstore.json)")
	addSignerFlags(cmd.Flags(), &sp)
	return cmd
}
