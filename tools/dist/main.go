// Command dist builds a harden release (make dist): reproducible binaries
// for linux and darwin on amd64 and arm64, named harden_<version>_<os>_<arch>,
// their SHA256SUMS, a Sigstore bundle of SHA256SUMS
// (SHA256SUMS.sigstore.json) and the SLSA v1 provenance of every binary as
// one signed in-toto statement (harden.intoto.sigstore.json). Signing uses
// harden's own signer: keyless with $SIGSTORE_ID_TOKEN, GitHub Actions or a
// browser sign-in, or -key. docs/release-checklist.md is the procedure.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/harden-dev/harden/internal/errs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dist: "+err.Error())
	}
	os.Exit(errs.ExitCode(err))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	var platforms string
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Src, "src", ".", "the checkout to build")
	fs.StringVar(&o.Out, "out", "release", "release directory (replaced as a whole when the release is complete)")
	fs.StringVar(&o.Version, "version", "", "version to stamp and name the files with (default: the tag at HEAD)")
	fs.StringVar(&platforms, "platforms", strings.Join(defaultPlatforms(), ","), "comma-separated os/arch list")
	fs.BoolVar(&o.AllowDirty, "allow-dirty", false, "build a work tree with uncommitted changes (test builds only)")
	fs.BoolVar(&o.NoSign, "no-sign", false, "write the binaries and SHA256SUMS only")
	fs.StringVar(&o.Signer.IdentityTokenFile, "identity-token-file", "", "file holding the OIDC identity token (default: $SIGSTORE_ID_TOKEN, GitHub Actions, or a browser sign-in)")
	fs.StringVar(&o.Signer.KeyPath, "key", "", "cosign-format private key (password in $COSIGN_PASSWORD) instead of keyless")
	fs.StringVar(&o.Signer.TrustedRoot, "trusted-root", "", "Sigstore trusted root JSON (default: public good via TUF)")
	fs.StringVar(&o.Signer.SigningConfig, "signing-config", "", "Sigstore signing config JSON (default: public good via TUF)")
	if err := fs.Parse(args); err != nil {
		return errs.Input(err)
	}
	if fs.NArg() > 0 {
		return errs.Input(fmt.Errorf("unexpected argument %q; see -h", fs.Arg(0)))
	}
	o.Platforms = strings.Split(platforms, ",")
	o.Signer.Interactive = term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
	o.Log = func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	res, err := Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "release %s (commit %s) in %s\n", res.Version, res.Commit, res.Dir)
	for _, f := range res.Files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	if res.Signer != "" {
		fmt.Fprintf(stdout, "signed as %s\n", res.Signer)
	}
	return nil
}
