package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/conformance"
	"github.com/harden-dev/harden/internal/errs"
)

// newConformanceCmd speaks the Sigstore conformance-suite client protocol.
func newConformanceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "conformance",
		Short:  "Sigstore conformance-suite client protocol",
		Hidden: true,
		Args:   args(cobra.NoArgs),
		RunE:   func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newConformanceVerifyBundleCmd(g))
	return cmd
}

func newConformanceVerifyBundleCmd(g *globals) *cobra.Command {
	var p conformance.Params
	cmd := &cobra.Command{
		Use:   "verify-bundle --bundle FILE (--certificate-identity I --certificate-oidc-issuer U | --key K) [--trusted-root F] FILE_OR_DIGEST",
		Short: "Verify a Sigstore bundle against an artifact (exit 0 verified, 1 not verified, 2 usage error)",
		Long: `Verify-bundle verifies a Sigstore bundle for FILE_OR_DIGEST: a file, or its
digest as sha256:<64 hex> when no file of that name exists. The signer is an
exact certificate identity and OIDC issuer, or the public key given with --key.
The bundle must have a transparency-log entry and a trusted timestamp, and a
certificate an SCT when the trusted root has CT logs. Without --trusted-root
the public-good Sigstore trusted root is fetched through TUF.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			p.Artifact = a[0]
			if err := conformance.VerifyBundle(cmd.Context(), p); err != nil {
				// Anything not classified as a usage or network error is
				// a failed verification.
				var classified *errs.Error
				if errors.As(err, &classified) {
					return err
				}
				return errs.Check(err)
			}
			return g.emit(struct {
				Bundle   string `json:"bundle"`
				Artifact string `json:"artifact"`
				Verified bool   `json:"verified"`
			}{p.BundlePath, p.Artifact, true}, func(w io.Writer) {
				fmt.Fprintf(w, "verified %s\n", p.BundlePath)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.BundlePath, "bundle", "", "Sigstore bundle to verify (required)")
	f.StringVar(&p.CertificateIdentity, "certificate-identity", "", "exact subject alternative name of the signing certificate")
	f.StringVar(&p.CertificateOIDCIssuer, "certificate-oidc-issuer", "", "exact OIDC issuer of the signing certificate")
	f.StringVar(&p.KeyPath, "key", "", "PEM public key that signed the bundle (instead of an identity)")
	f.StringVar(&p.TrustedRootPath, "trusted-root", "", "Sigstore trusted root JSON (default: public good via TUF)")
	return cmd
}
