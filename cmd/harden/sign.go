package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/release"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/sign"
)

// signFlags are shared by sign and attest.
type signFlags struct {
	sp      attest.SignerParams
	out     string
	release string
	storage string
}

func (f *signFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", dist.Default, "build output directory (build.json, oci/, release.json)")
	fl.StringVar(&f.release, "record", "", "release record path (default: <out>/release.json)")
	// --record, as harden publish names the file it writes.
	fl.StringVar(&f.release, "release", "", "release record path")
	_ = fl.MarkDeprecated("release", "use --record")
	fl.StringVar(&f.storage, "storage", "", "both, referrers or legacy (default: storage: in harden.yaml, else both)")
	fl.StringVar(&f.sp.IdentityToken, "identity-token", "", "OIDC identity token for keyless signing (prefer --identity-token-file)")
	fl.StringVar(&f.sp.IdentityTokenFile, "identity-token-file", "", "file holding the OIDC identity token")
	fl.StringVar(&f.sp.KeyPath, "key", "", "cosign-format private key (password in $COSIGN_PASSWORD) instead of keyless")
	fl.StringVar(&f.sp.TrustedRoot, "trusted-root", "", "Sigstore trusted root JSON (default: public good via TUF)")
	fl.StringVar(&f.sp.SigningConfig, "signing-config", "", "Sigstore signing config JSON (default: public good via TUF)")
}

// params loads the config (for storage and provenance), the release
// record and a signer.
func (f *signFlags) params(ctx context.Context, g *globals) (attest.Params, *dist.Release, error) {
	var p attest.Params
	pr, err := g.load(ctx, "")
	if err != nil {
		return p, nil, err
	}
	rel, err := dist.ReadRelease(cmp.Or(f.release, dist.Dir(f.out).Release()))
	if err != nil {
		return p, nil, err
	}
	storage := f.storage
	if storage == "" {
		storage = pr.Config.Storage
	}
	st, err := attach.ParseStorage(storage)
	if err != nil {
		return p, nil, err
	}
	f.sp.Interactive = term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
	signer, err := attest.NewSigner(ctx, f.sp)
	if err != nil {
		return p, nil, err
	}
	g.logf("signing as %s", signer.Identity())
	return attest.Params{Config: pr.Config, Storage: st, Signer: signer,
		Registry: g.registry(), HardenVersion: g.build.Version, Log: g.logf}, rel, nil
}

func newSignCmd(g *globals) *cobra.Command {
	var f signFlags
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Sign the published index and every platform manifest (Sigstore keyless by default)",
		Long: `Sign signs the image named by the release record: the index and each platform
manifest. Keyless signing takes an OIDC token from --identity-token(-file),
$SIGSTORE_ID_TOKEN, GitHub Actions, or a browser sign-in at a terminal, gets a
short-lived Fulcio certificate, and records the signature in the transparency
log with a timestamp. Signatures are stored as OCI 1.1 referrers (Sigstore
bundle v0.3) and as cosign .sig tags; re-running adds nothing new.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, rel, err := f.params(cmd.Context(), g)
			if err != nil {
				return err
			}
			rep, err := attest.SignRelease(cmd.Context(), p, rel)
			if err != nil {
				return err
			}
			return g.emit(rep, func(w io.Writer) { renderAttest(w, rep) })
		},
	}
	f.register(cmd)
	return cmd
}

func newAttestCmd(g *globals) *cobra.Command {
	var f signFlags
	var types []string
	var withSign bool
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Sign SLSA v1 provenance and SBOM attestations and attach them to the image",
		Long: `Attest makes in-toto statements for the published image: SLSA v1 provenance
(subjects: the index and each platform manifest), and an SPDX 2.3 and a
CycloneDX 1.6 SBOM per platform (cross-checked against the lock). Each is
signed once and attached to every subject it names. --type vuln attests the
vulnerability scan (cosign's vuln predicate) from the reports that
harden scan --out wrote to <out>/scan/. With --sign it also signs the image:
every statement is made first, then the signatures and attestations are
signed in one batch.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := attest.ParseTypes(types)
			if err != nil {
				return err
			}
			p, rel, err := f.params(cmd.Context(), g)
			if err != nil {
				return err
			}
			facts, err := attest.LoadFacts(dist.Dir(f.out), rel, ts)
			if err != nil {
				return err
			}
			var rep *attest.Report
			if withSign {
				signs, atts, err := attest.SignAndAttestRelease(cmd.Context(), p, rel, facts, ts)
				if err != nil {
					return err
				}
				rep = signs
				rep.Entries = append(rep.Entries, atts.Entries...)
			} else if rep, err = attest.AttestRelease(cmd.Context(), p, facts, ts); err != nil {
				return err
			}
			return g.emit(rep, func(w io.Writer) { renderAttest(w, rep) })
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&withSign, "sign", false, "also sign the index and every platform manifest, as harden sign does, in the same batch (one wait for the transparency log)")
	cmd.Flags().StringSliceVar(&types, "type", nil, "slsaprovenance1, spdxjson, cyclonedx or vuln (repeatable; default: all but vuln, which needs the reports harden scan --out writes)")
	return cmd
}

func renderAttest(w io.Writer, rep *attest.Report) {
	fmt.Fprintf(w, "identity  %s\nstorage   %s\n", rep.Identity, rep.Storage)
	for _, e := range rep.Entries {
		what := e.Kind
		if e.PredicateType != "" {
			what += " " + e.PredicateType
		}
		fmt.Fprintf(w, "%-8s %-9s %s  %s\n", e.Status, e.Layout, e.Subject, what)
	}
}

func newSBOMCmd(g *globals) *cobra.Command {
	var out, dir, repo string
	var formats []string
	cmd := &cobra.Command{
		Use:   "sbom",
		Short: "Generate SPDX 2.3 and CycloneDX 1.6 SBOMs for each platform of the build",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var fs []sbom.Format
			for _, s := range formats {
				f, err := sbom.ParseFormat(s)
				if err != nil {
					return errs.Input(err)
				}
				fs = append(fs, f)
			}
			pr, err := g.load(cmd.Context(), "")
			if err != nil {
				return err
			}
			files, err := release.WriteSBOMs(cmd.Context(), release.SBOMOptions{Out: dist.Dir(out), Dir: dir, Formats: fs,
				Repository: repo, ConfigRepository: pr.Config.Repository, Version: g.build.Version})
			if err != nil {
				return err
			}
			return g.emit(map[string][]string{"files": files}, func(w io.Writer) {
				for _, p := range files {
					fmt.Fprintln(w, p)
				}
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", dist.Default, "build output directory")
	cmd.Flags().StringVar(&dir, "dir", "", "where to write the SBOMs (default: <out>/sbom)")
	cmd.Flags().StringVar(&repo, "repo", "", "the image's repository, which names the documents (default: <out>/release.json's, then repository: in harden.yaml)")
	cmd.Flags().StringSliceVar(&formats, "format", []string{"spdx-json", "cyclonedx-json"}, "spdx-json, cyclonedx-json")
	return cmd
}

func newKeygenCmd(g *globals) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Write a cosign-format ECDSA P-256 key pair for key-based signing",
		Long: `Keygen writes <prefix>.key (encrypted with $COSIGN_PASSWORD, mode 0600) and
<prefix>.pub. They work with harden sign --key and cosign verify --key.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pass, ok := os.LookupEnv(sign.PasswordEnv)
			if !ok {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return errs.Input(fmt.Errorf("set %s to the key password (it may be empty) or run at a terminal", sign.PasswordEnv))
				}
				fmt.Fprint(g.stderr, "password for the new key: ")
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(g.stderr)
				if err != nil {
					return errs.Input(fmt.Errorf("read password: %w", err))
				}
				pass = string(b)
			}
			kp, err := sign.GenerateKey(prefix, []byte(pass))
			if err != nil {
				return err
			}
			return g.emit(kp, func(w io.Writer) { fmt.Fprintf(w, "%s\n%s\n", kp.Private, kp.Public) })
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "path prefix of the key files")
	return cmd
}
