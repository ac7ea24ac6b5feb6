package relocate_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/verify"
)

const email = "release@example.com"

// world is one Sigstore stack and one built fixture image, signed and
// attested by harden in both storage layouts on a registry with the
// referrers API.
type world struct {
	st     *sigstoretest.Stack
	res    *buildtest.Result
	signer *sign.Signer
	rc     *registry.Client
	image  name.Digest // the signed image
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the fixture image and signs it with the local Sigstore stack; skipped in -short mode")
	}
	ctx := context.Background()
	res := buildtest.Build(t, buildtest.Options{Registry: registrytest.StartReferrers(t)})
	st := sigstoretest.Start(t)
	s, err := attest.NewSigner(ctx, attest.SignerParams{IdentityToken: st.Issuer.Token(t, email), TrustedRoot: st.TrustedRootPath,
		SigningConfig: st.SigningConfigPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{st: st, res: res, signer: s, rc: registry.New()}
	rel, subs := res.Copy(t, nil, "relocate/signed")
	w.release(t, rel, subs)
	w.image = subs[0]
	return w
}

// release signs every subject and attests harden's statements about
// them, in both layouts.
func (w *world) release(t *testing.T, rel *dist.Release, subs []name.Digest) {
	t.Helper()
	ctx := context.Background()
	a := &attest.Attester{Signer: w.signer, Store: attach.New(w.rc), Storage: attach.Both}
	if _, err := a.Sign(ctx, subs); err != nil {
		t.Fatal(err)
	}
	p := attest.Params{HardenVersion: "test", Getenv: func(string) string { return "" }}
	sts, err := attest.Statements(p, &attest.Facts{Record: w.res.Record, Release: rel, SBOMs: w.res.SBOMs(t, rel.Repository)}, attest.AllTypes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Attest(ctx, sts); err != nil {
		t.Fatal(err)
	}
}

func (w *world) options(image string) verify.Options {
	return verify.Options{Image: image, Identity: verify.Identity{Subject: email, Issuer: w.st.Issuer.URL()},
		Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath, Offline: true}, Registry: w.rc}
}

// mustVerify runs verify on image with the options the source passed
// with, and requires it to pass.
func (w *world) mustVerify(t *testing.T, image string) *verify.Report {
	t.Helper()
	r, err := verify.Verify(context.Background(), w.options(image))
	if err != nil {
		t.Fatalf("verify %s: %v", image, err)
	}
	if !r.Verified {
		t.Fatalf("verify %s failed: %+v", image, r.Failed())
	}
	return r
}

// descriptorOf is the manifest descriptor of ref.
func descriptorOf(t *testing.T, ref name.Digest) *remote.Descriptor {
	t.Helper()
	d, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
