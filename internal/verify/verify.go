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
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/sync/errgroup"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
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
	Vuln VulnPolicy
	// Summary, when set, verifies by a VSA from the identity (or key)
	// above instead of every entry: the fast path of --vsa-from.
	Summary  *SummaryRequirement
	Registry *registry.Client
	Now      func() time.Time
	// Rerun, when set, writes the command to run again with image (a
	// digest reference) in place of the tag the user gave, keeping the
	// user's other flags; nil suggests "harden verify IMAGE".
	Rerun func(image string) string
}

// Check is one named result. Signer names whom a passing check relied
// on; Candidates lists every verified statement the check looked at.
type Check struct {
	Name       string      `json:"name"`
	Subject    string      `json:"subject,omitempty"`
	Passed     bool        `json:"passed"`
	Reason     string      `json:"reason"`
	Signer     string      `json:"signer,omitempty"`
	Candidates []Candidate `json:"candidates,omitempty"`
}

// Candidate is one verified statement a check considered.
type Candidate struct {
	Layout   string `json:"layout"`
	Entry    string `json:"entry"`
	Signer   string `json:"signer"`
	SignedAt string `json:"signedAt,omitempty"`
	Accepted bool   `json:"accepted"`
	Reason   string `json:"reason,omitempty"`
}

// Report is the outcome of Verify.
type Report struct {
	Image    string   `json:"image"`
	Digest   string   `json:"digest"`
	Verified bool     `json:"verified"`
	Checks   []Check  `json:"checks"`
	Storage  []string `json:"storage"` // layouts in which entries were found
	// Ignored lists entries that could not be read as signatures or
	// attestations (malformed, over a limit, or altered).
	Ignored  []attach.Ignored `json:"ignored"`
	Warnings []string         `json:"warnings,omitempty"`
	// PolicyDigest is the sha256 of the policy applied: the Rego modules
	// and the options that decide checks (docs/vsa.md).
	PolicyDigest string `json:"policyDigest"`
	// VSA is what --attest-vsa attached: the verification summary of
	// this report, signed by the verifier.
	VSA *attest.Report `json:"vsa,omitempty"`
	// Input is the policy input document (docs/policy-input.md).
	Input *Input `json:"-"`
}

// SummaryRequirement is what a VSA must show to stand in for a full
// verification.
type SummaryRequirement struct {
	MaxAge       time.Duration // 0: any age
	Level        string        // a vsa.Levels entry, or ""
	PolicyDigest string        // "": any policy
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

// Err is the error a command exits with for this report: nil when
// verified, else a failed check (exit 1).
func (r *Report) Err() error {
	if r.Verified {
		return nil
	}
	return errs.Check(fmt.Errorf("%s: %d check(s) failed", r.Image, len(r.Failed())))
}

func (r *Report) add(name, subject string, ok bool, format string, args ...any) *Check {
	r.Checks = append(r.Checks, Check{Name: name, Subject: subject, Passed: ok, Reason: fmt.Sprintf(format, args...)})
	return &r.Checks[len(r.Checks)-1]
}

// target is one manifest under verification.
type target struct {
	ref      name.Digest
	platform string // "" for an index
	config   *v1.ConfigFile
	layers   []v1.Hash // diff IDs
	appLayer map[string]bool
	found    *attach.Found
	sigs     []Verified
	atts     []Verified
	rejected []rejected
	ignored  []attach.Ignored
	skipped  int // an index's SBOM copies, which no check reads
}

// targets are the manifests under verification: the one named (an index
// or an image) and the platform images the platform checks apply to.
// When an image is named by its own digest it is both.
type targets struct {
	root  *target
	plats []*target
}

// all lists each manifest once, the named one first.
func (ts targets) all() []*target {
	if len(ts.plats) == 1 && ts.plats[0] == ts.root {
		return ts.plats
	}
	return append([]*target{ts.root}, ts.plats...)
}

// Verify runs every check. It returns an error only when verification
// could not be carried out (bad input, unreachable registry); a failed
// check, altered content included, is a Report with Verified false.
func Verify(ctx context.Context, o Options) (*Report, error) {
	var orig string
	rewrite := func(s string) string { return s }
	hide := func(err error) error { return err }
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
		// Nothing shown to the user names the loopback registry that
		// serves the layout inside this process.
		rewrite, hide = s.HideText, s.Hide
	}
	rep, err := run(ctx, o)
	if err != nil {
		return nil, hide(err)
	}
	if orig != "" {
		rep.Image = orig
		rep.Input.Image.Reference = orig
		rep.Input.Image.Repository = strings.SplitN(orig, "@", 2)[0]
		rep.rewrite(rewrite)
	}
	return rep, nil
}

func run(ctx context.Context, o Options) (*Report, error) {
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
	rep := &Report{Image: ref.String(), Digest: ref.DigestStr(), Ignored: []attach.Ignored{}, PolicyDigest: policyDigest(o, engine, v.keyPEM)}
	rep.add("reference", ref.DigestStr(), true, "pinned by digest")

	ts, err := loadTargets(ctx, o, ref)
	if registry.IsIntegrity(err) {
		rep.add("integrity", ref.DigestStr(), false, "%s; the registry, or something between it and you, served altered data: nothing else was checked", integrityObject(err))
		rep.Input = buildInput(o, rep, targets{root: &target{ref: ref}})
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	store := attach.New(o.Registry)
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if o.Summary != nil {
		f, err := store.Find(ctx, ts.root.ref)
		if err != nil {
			return nil, err
		}
		ts.root.found = f
		v.verifyTarget(ctx, ts.root)
		checkIntegrity(rep, targets{root: ts.root, plats: []*target{ts.root}})
		fromSummary(rep, o, ts.root, now())
		rep.Input = buildInput(o, rep, ts)
		rep.Verified = len(rep.Failed()) == 0
		return rep, nil
	}
	// Each manifest's entries are found and verified independently.
	// Not errgroup.WithContext: found entries read lazily with the
	// context they were made with.
	var g errgroup.Group
	for _, t := range ts.all() {
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
	checkIntegrity(rep, ts)
	checkStorage(rep, ts)
	checkSignatures(rep, o, ts)
	prov := checkProvenance(rep, o, ts.root)
	checkSBOMs(rep, ts, prov)
	checkConfigs(rep, o, ts)
	vulns := checkVulns(rep, o, ts, now())
	rep.Input = buildInput(o, rep, ts)
	rep.Input.Vulnerabilities = vulns
	rep.Input.Upstream = prov.upstreamInput()
	if err := evaluate(ctx, engine, rep); err != nil {
		return nil, err
	}
	rep.Verified = len(rep.Failed()) == 0
	return rep, nil
}

// integrityObject names what did not match its digest.
func integrityObject(err error) string {
	var ie *registry.IntegrityError
	if errors.As(err, &ie) {
		return ie.Error()
	}
	return "content does not match its digest (" + firstLine(err.Error()) + ")"
}

// rewrite applies f to every text of the report.
func (r *Report) rewrite(f func(string) string) {
	for i := range r.Checks {
		r.Checks[i].Reason = f(r.Checks[i].Reason)
	}
	for i := range r.Warnings {
		r.Warnings[i] = f(r.Warnings[i])
	}
	for i := range r.Ignored {
		r.Ignored[i].Reason = f(r.Ignored[i].Reason)
	}
	if r.Input != nil {
		r.Input.Checks = r.Checks
	}
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
	rerun := o.Rerun
	if rerun == nil {
		rerun = func(image string) string { return "harden verify " + image }
	}
	res, rerr := o.Registry.Resolve(ctx, tag.String())
	if rerr != nil {
		return name.Digest{}, errs.Input(fmt.Errorf("%s is a tag; verification needs a digest (tags can move). Resolve it with harden base resolve %s (or crane digest %s), then run %s", tag, tag, tag, rerun(tag.Context().String()+"@sha256:…")))
	}
	return name.Digest{}, errs.Input(fmt.Errorf("%s is a tag; verification needs a digest because a tag can be moved after it. It currently points to %s; run:\n  %s", tag, res.Digest, rerun(res.Pinned)))
}

func loadTargets(ctx context.Context, o Options, ref name.Digest) (targets, error) {
	opts := o.Registry.Remote(ctx)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return targets{}, registry.Classify(fmt.Errorf("fetch %s: %w", ref, err))
	}
	if !desc.MediaType.IsIndex() {
		// An image named by its own digest (what a node pulls once it has
		// resolved an index) gets every check a platform of an index gets.
		img, err := desc.Image()
		if err != nil {
			return targets{}, registry.Classify(fmt.Errorf("read %s: %w", ref, err))
		}
		t := &target{ref: ref}
		if err := t.loadImage(img); err != nil {
			return targets{}, err
		}
		t.platform = platformOf(t.config)
		if len(o.Platforms) > 0 && !slices.Contains(o.Platforms, t.platform) {
			return targets{}, errs.Input(fmt.Errorf("--platform %s: %s is a single %s image", strings.Join(o.Platforms, ","), ref.DigestStr(), t.platform))
		}
		return targets{root: t, plats: []*target{t}}, nil
	}
	ii, err := desc.ImageIndex()
	if err != nil {
		return targets{}, registry.Classify(fmt.Errorf("read index %s: %w", ref, err))
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return targets{}, registry.Classify(fmt.Errorf("read index %s: %w", ref, err))
	}
	want := map[string]bool{}
	for _, p := range o.Platforms {
		want[p] = true
	}
	out := targets{root: &target{ref: ref}}
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
			return targets{}, registry.Classify(fmt.Errorf("fetch %s: %w", p, err))
		}
		t := &target{ref: ref.Context().Digest(m.Digest.String()), platform: p}
		if err := t.loadImage(img); err != nil {
			return targets{}, err
		}
		out.plats = append(out.plats, t)
	}
	for p := range want {
		if !seen[p] {
			return targets{}, errs.Input(fmt.Errorf("--platform %s: the index has no such platform", p))
		}
	}
	return out, nil
}

// platformOf is os/arch[/variant] of an image config.
func platformOf(cf *v1.ConfigFile) string {
	p := cf.OS + "/" + cf.Architecture
	if cf.Variant != "" {
		p += "/" + cf.Variant
	}
	return p
}

func (t *target) loadImage(img v1.Image) error {
	// The manifest first: a manifest that does not match its digest is
	// named as such rather than as an unreadable config.
	if _, err := img.RawManifest(); err != nil {
		return registry.Classify(fmt.Errorf("manifest of %s: %w", t.ref, err))
	}
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
	keyPEM   []byte
	keyV     signature.Verifier
	sev      *sgverify.Verifier
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
		v.key, v.keyPEM = pub, b
		if v.keyV, err = signature.LoadVerifier(pub, crypto.SHA256); err != nil {
			return nil, errs.Input(fmt.Errorf("public key %s: %w", o.KeyPath, err))
		}
	} else if o.Identity.Issuer == "" {
		return nil, errs.Input(errors.New("say who must have signed: --certificate-identity(-regexp) with --certificate-oidc-issuer, --github-repo, or --key"))
	}
	// A key alone is its own trust: no TUF, cached or not.
	if o.KeyPath == "" || o.Trust.TrustedRootPath != "" {
		tr, err := sign.LoadTrust(o.Trust)
		if err != nil {
			return nil, err
		}
		v.trusted = tr.Root
		v.material = tr.Root
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
	var err error
	if v.sev, err = sgverify.NewVerifier(v.material, v.verifierOptions()...); err != nil {
		return nil, errs.Input(fmt.Errorf("trust material: %w", err))
	}
	return v, nil
}

func (v *verifier) verifierOptions() []sgverify.VerifierOption {
	var opts []sgverify.VerifierOption
	if v.o.InsecureIgnoreTlog {
		if v.key != nil {
			opts = append(opts, sgverify.WithNoObserverTimestamps())
		} else {
			opts = append(opts, sgverify.WithSignedTimestamps(1))
		}
		return opts
	}
	opts = append(opts, sgverify.WithTransparencyLog(1))
	if v.key != nil {
		opts = append(opts, sgverify.WithNoObserverTimestamps())
	} else {
		opts = append(opts, sgverify.WithObserverTimestamps(1))
	}
	if v.trusted != nil && len(v.trusted.CTLogs()) > 0 && v.key == nil {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	return opts
}
