// Package verify proves that an image is what it claims: signed by the
// expected identity, with SLSA provenance and SBOMs that are signed,
// about this digest and consistent with each other, a non-root config,
// and whatever the Rego policies require. Each check has a name, a
// result and a reason a person can act on.
package verify

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/sync/errgroup"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/export"
	"github.com/harden-dev/harden/internal/policy"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/sign"
)

// Options say what to verify and against what.
type Options struct {
	Image string
	// Layout, when set, is a directory written by harden export; the
	// image and its attestations are read from it, not from a registry.
	Layout    string
	Identity  Identity // keyless
	KeyPath   string   // key-based instead
	Trust     sign.TrustOptions
	Platforms []string // limit platform checks; empty = all
	ExpectUID int      // 0 = 10001
	// BuilderID and SourceRepo, when set, must match the provenance.
	BuilderID  string
	SourceRepo string
	SourceRef  string
	// InsecureIgnoreTlog accepts signatures without a log entry (legacy
	// cosign storage with Rekor v2 or air-gapped key signing).
	InsecureIgnoreTlog bool
	// Policies are extra Rego files or directories; NoDefaultPolicy
	// skips the shipped policy/pgcli.rego.
	Policies        []string
	NoDefaultPolicy bool
	// Vuln is what the signed vulnerability scan must show.
	Vuln     VulnPolicy
	Registry *registry.Client
	Now      func() time.Time
}

// Check is one named result.
type Check struct {
	Name    string `json:"name"`
	Subject string `json:"subject,omitempty"`
	Passed  bool   `json:"passed"`
	Reason  string `json:"reason"`
}

// Report is the outcome of Verify.
type Report struct {
	Image    string   `json:"image"`
	Digest   string   `json:"digest"`
	Verified bool     `json:"verified"`
	Checks   []Check  `json:"checks"`
	Storage  []string `json:"storage"` // layouts in which entries were found
	Warnings []string `json:"warnings,omitempty"`
	// Input is the policy input document (docs/policy-input.md).
	Input *Input `json:"-"`
}

// Failed lists the failed checks.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

func (r *Report) add(name, subject string, ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Subject: subject, Passed: ok, Reason: fmt.Sprintf(format, args...)})
}

// target is one manifest under verification.
type target struct {
	ref      name.Digest
	platform string // "" for the index
	config   *v1.ConfigFile
	layers   []v1.Hash // diff IDs
	appLayer map[string]bool
	found    *attach.Found
	sigs     []Verified
	atts     []Verified
	errs     []string
}

// Verify runs every check. It returns an error only when verification
// could not be carried out (bad input, unreachable registry); a failed
// check is a Report with Verified false.
func Verify(ctx context.Context, o Options) (*Report, error) {
	var orig string
	if o.Layout != "" {
		s, err := export.Serve(ctx, o.Layout)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		if o.Image != "" && o.Image != s.Orig.String() && o.Image != s.Orig.DigestStr() {
			return nil, errs.Input(fmt.Errorf("%s holds %s, not %s", o.Layout, s.Orig, o.Image))
		}
		orig, o.Image = s.Orig.String(), s.Image.String()
		o.Registry = registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	}
	ref, err := digestRef(ctx, o)
	if err != nil {
		return nil, err
	}
	// Local input (policies) is checked before trust material, which may
	// need the network.
	engine, err := policy.Load(ctx, o.Policies, o.NoDefaultPolicy)
	if err != nil {
		return nil, err
	}
	v, err := newVerifier(o)
	if err != nil {
		return nil, err
	}
	rep := &Report{Image: ref.String(), Digest: ref.DigestStr()}
	rep.add("reference", ref.DigestStr(), true, "pinned by digest")

	targets, err := loadTargets(ctx, o, ref)
	if err != nil {
		return nil, err
	}
	store := attach.New(o.Registry)
	// Each manifest's entries are found and verified independently.
	// Not errgroup.WithContext: found entries read lazily with the
	// context they were made with.
	var g errgroup.Group
	for _, t := range targets {
		g.Go(func() error {
			f, err := store.Find(ctx, t.ref)
			if err != nil {
				return err
			}
			t.found = f
			v.verifyTarget(ctx, t)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	layouts := map[string]bool{}
	for _, t := range targets {
		if len(t.found.Referrers) > 0 {
			layouts["referrers"] = true
		}
		if len(t.found.Signatures)+len(t.found.Attestations) > 0 {
			layouts["legacy"] = true
		}
	}
	for l := range layouts {
		rep.Storage = append(rep.Storage, l)
	}
	sort.Strings(rep.Storage)
	if len(rep.Storage) == 0 {
		rep.add("storage", ref.DigestStr(), false, "no signatures or attestations found, neither as OCI referrers (or the sha256-<hex> fallback tag) nor as cosign .sig/.att tags; sign with harden sign / harden attest")
	} else {
		rep.add("storage", ref.DigestStr(), true, "found in %s", strings.Join(rep.Storage, " and "))
	}
	checkSignatures(rep, targets)
	prov := checkProvenance(rep, o, targets)
	checkSBOMs(rep, targets, prov)
	checkConfigs(rep, o, targets)
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	vulns := checkVulns(rep, o, targets, now())
	rep.Input = buildInput(o, rep, targets)
	rep.Input.Vulnerabilities = vulns
	if orig != "" {
		rep.Image = orig
		rep.Input.Image.Reference = orig
		rep.Input.Image.Repository = strings.SplitN(orig, "@", 2)[0]
	}
	if err := evaluate(ctx, engine, rep); err != nil {
		return nil, err
	}
	rep.Verified = len(rep.Failed()) == 0
	return rep, nil
}

// evaluate runs the Rego policies over the input; each deny is a failed
// policy check, each warn a warning.
func evaluate(ctx context.Context, e *policy.Engine, rep *Report) error {
	b, err := json.Marshal(rep.Input)
	if err != nil {
		return err
	}
	var in any
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	d, err := e.Evaluate(ctx, in)
	if err != nil {
		return errs.Input(fmt.Errorf("policy: %w", err))
	}
	for _, m := range d.Deny {
		rep.add("policy", rep.Digest, false, "%s", m)
	}
	if len(d.Deny) == 0 {
		rep.add("policy", rep.Digest, true, "%d policy module(s), nothing denied", len(e.Modules))
	}
	rep.Warnings = d.Warn
	return nil
}

// digestRef insists on a digest and shows the way when given a tag.
func digestRef(ctx context.Context, o Options) (name.Digest, error) {
	if o.Image == "" {
		return name.Digest{}, errs.Input(errors.New("name the image: harden verify REPO@sha256:…"))
	}
	if d, err := name.NewDigest(o.Image); err == nil {
		return d, nil
	}
	tag, err := name.NewTag(o.Image)
	if err != nil {
		return name.Digest{}, errs.Input(fmt.Errorf("image %q: %w; use REPO@sha256:<digest>", o.Image, err))
	}
	res, rerr := o.Registry.Resolve(ctx, tag.String())
	if rerr != nil {
		return name.Digest{}, errs.Input(fmt.Errorf("%s is a tag; verify needs a digest (tags can move). Resolve it with harden base resolve %s, then run harden verify %s@sha256:…", tag, tag, tag.Context()))
	}
	return name.Digest{}, errs.Input(fmt.Errorf("%s is a tag; verify needs a digest because a tag can be moved after verification. It currently points to %s; run:\n  harden verify %s", tag, res.Digest, res.Pinned))
}

func loadTargets(ctx context.Context, o Options, ref name.Digest) ([]*target, error) {
	opts := o.Registry.Remote(ctx)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("fetch %s: %w", ref, err))
	}
	idx := &target{ref: ref}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		if err := idx.loadImage(img); err != nil {
			return nil, err
		}
		idx.platform = "image"
		return []*target{idx}, nil
	}
	ii, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("read index %s: %w", ref, err))
	}
	want := map[string]bool{}
	for _, p := range o.Platforms {
		want[p] = true
	}
	out := []*target{idx}
	seen := map[string]bool{}
	for _, m := range im.Manifests {
		if m.Platform == nil || m.MediaType.IsIndex() {
			continue
		}
		p := m.Platform.OS + "/" + m.Platform.Architecture
		if m.Platform.Variant != "" {
			p += "/" + m.Platform.Variant
		}
		if len(want) > 0 && !want[p] {
			continue
		}
		seen[p] = true
		img, err := ii.Image(m.Digest)
		if err != nil {
			return nil, registry.Classify(fmt.Errorf("fetch %s: %w", p, err))
		}
		t := &target{ref: ref.Context().Digest(m.Digest.String()), platform: p}
		if err := t.loadImage(img); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	for p := range want {
		if !seen[p] {
			return nil, errs.Input(fmt.Errorf("--platform %s: the index has no such platform", p))
		}
	}
	return out, nil
}

func (t *target) loadImage(img v1.Image) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return registry.Classify(fmt.Errorf("config of %s: %w", t.ref, err))
	}
	t.config = cf
	t.layers = cf.RootFS.DiffIDs
	// harden marks the layers it adds in the history ("harden").
	t.appLayer = map[string]bool{}
	li := 0
	for _, h := range cf.History {
		if h.EmptyLayer {
			continue
		}
		if h.Comment == "harden" && li < len(t.layers) {
			t.appLayer[t.layers[li].String()] = true
		}
		li++
	}
	return nil
}

// verifier holds the trust material and identity rules.
type verifier struct {
	o        Options
	material root.TrustedMaterial
	trusted  *root.TrustedRoot
	key      crypto.PublicKey
	keyV     signature.Verifier
}

func newVerifier(o Options) (*verifier, error) {
	v := &verifier{o: o}
	if o.KeyPath != "" {
		b, err := os.ReadFile(o.KeyPath)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("read public key: %w", err))
		}
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
		if err != nil {
			return nil, errs.Input(fmt.Errorf("%s is not a PEM public key: %w", o.KeyPath, err))
		}
		v.key = pub
		if v.keyV, err = signature.LoadVerifier(pub, crypto.SHA256); err != nil {
			return nil, errs.Input(fmt.Errorf("public key %s: %w", o.KeyPath, err))
		}
	} else if o.Identity.Issuer == "" {
		return nil, errs.Input(errors.New("say who must have signed: --certificate-identity(-regexp) with --certificate-oidc-issuer, --github-repo, or --key"))
	}
	topts := o.Trust
	if o.KeyPath != "" && topts.TrustedRootPath == "" {
		topts.Offline = true
	}
	tr, err := sign.LoadTrust(topts)
	switch {
	case err == nil:
		v.trusted = tr.Root
		v.material = tr.Root
	case o.KeyPath == "":
		return nil, err
	}
	if v.key != nil {
		km := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(v.keyV, time.Time{}, time.Time{}), nil
		})
		if v.material != nil {
			v.material = root.TrustedMaterialCollection{v.material, km}
		} else {
			v.material = km
		}
	}
	return v, nil
}
