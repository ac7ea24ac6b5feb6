package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/provenance"
	"github.com/harden-dev/harden/internal/publish"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/sign"
)

// Attestation types, as cosign names them on its command line.
const (
	TypeSLSA      = "slsaprovenance1"
	TypeSPDX      = "spdxjson"
	TypeCycloneDX = "cyclonedx"
	// TypeVuln is the scan stage's result (cosign's vuln predicate), read
	// from <out>/scan/.
	TypeVuln = "vuln"
)

// AllTypes are the attestations a release carries.
var AllTypes = []string{TypeSLSA, TypeSPDX, TypeCycloneDX}

// ParseTypes checks --type values.
func ParseTypes(ts []string) ([]string, error) {
	if len(ts) == 0 {
		return AllTypes, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		switch t {
		case TypeSLSA, TypeSPDX, TypeCycloneDX, TypeVuln:
		case "slsaprovenance", "spdx", "cyclonedx-json":
			return nil, errs.Input(fmt.Errorf("--type %q: did you mean %s?", t, map[string]string{"slsaprovenance": TypeSLSA, "spdx": TypeSPDX, "cyclonedx-json": TypeCycloneDX}[t]))
		default:
			return nil, errs.Input(fmt.Errorf("--type %q: use %s, %s, %s or %s", t, TypeSLSA, TypeSPDX, TypeCycloneDX, TypeVuln))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// SignerParams say how to sign, as the command line gives them.
type SignerParams struct {
	IdentityToken     string
	IdentityTokenFile string
	KeyPath           string
	TrustedRoot       string
	SigningConfig     string
	Offline           bool
	Interactive       bool
	Getenv            func(string) string
	HTTPClient        *http.Client
	CacheDir          string
}

// NewSigner loads trust material and a token or key and returns a ready
// signer. Keyless, this fetches the certificate.
func NewSigner(ctx context.Context, p SignerParams) (*sign.Signer, error) {
	o, err := loadSigning(ctx, p, p.Interactive)
	if err != nil {
		return nil, err
	}
	return sign.New(ctx, o)
}

// CheckSigner is NewSigner without the certificate: it loads the key, or
// the trust material and the identity token, and checks that Fulcio
// accepts the token's issuer. A release runs it before anything is
// pushed. An interactive sign-in is left to signing time.
func CheckSigner(ctx context.Context, p SignerParams) (string, error) {
	o, err := loadSigning(ctx, p, false)
	switch {
	case err != nil && o.Trust != nil && p.Interactive && p.IdentityToken == "" && p.IdentityTokenFile == "":
		// The trust material loaded; only the token is missing.
		return "no token yet: a browser sign-in at the sign stage", nil
	case err != nil:
		return "", err
	case o.Key != nil:
		return "key " + p.KeyPath + " loads", nil
	}
	return sign.CheckIssuer(ctx, o.Trust, o.Token, p.HTTPClient, nil)
}

// loadSigning reads what a signer needs: the key (and trust files, when
// given), or the trust material and an identity token, found without a
// browser sign-in unless interactive. When only the token is missing,
// the error comes with the loaded Trust.
func loadSigning(ctx context.Context, p SignerParams, interactive bool) (sign.Options, error) {
	getenv := p.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	keyed := p.KeyPath != ""
	if keyed && (p.IdentityToken != "" || p.IdentityTokenFile != "") {
		return sign.Options{}, errs.Input(errors.New("--key and --identity-token(-file) exclude each other: sign with a key or keyless, not both"))
	}
	if keyed {
		sv, err := sign.LoadKey(p.KeyPath, []byte(getenv(sign.PasswordEnv)))
		if err != nil {
			return sign.Options{}, err
		}
		var trust *sign.Trust
		// Without trust files, key signing is air-gapped: no log, no
		// timestamp, nothing fetched.
		if p.TrustedRoot != "" || p.SigningConfig != "" {
			if trust, err = sign.LoadTrust(sign.TrustOptions{TrustedRootPath: p.TrustedRoot, SigningConfigPath: p.SigningConfig,
				Offline: p.Offline, CacheDir: p.CacheDir}); err != nil {
				return sign.Options{}, err
			}
		}
		return sign.Options{Trust: trust, Key: sv}, nil
	}
	trust, err := sign.LoadTrust(sign.TrustOptions{TrustedRootPath: p.TrustedRoot, SigningConfigPath: p.SigningConfig,
		Offline: p.Offline, CacheDir: p.CacheDir, NeedSigningConfig: true})
	if err != nil {
		return sign.Options{}, err
	}
	issuer := ""
	if trust.Config != nil && len(trust.Config.OIDCProviderURLs()) > 0 {
		issuer = trust.Config.OIDCProviderURLs()[0].URL
	}
	tok, err := sign.ResolveToken(ctx, sign.TokenOptions{
		Token: p.IdentityToken, TokenFile: p.IdentityTokenFile, Getenv: getenv,
		HTTPClient: p.HTTPClient, Interactive: interactive, Issuer: issuer,
	})
	if err != nil {
		return sign.Options{Trust: trust}, err
	}
	return sign.Options{Trust: trust, Token: tok}, nil
}

// Params locate what to sign.
type Params struct {
	Out           string // build output: build.json, oci/, release.json
	ReleasePath   string // "" = <Out>/release.json
	Config        *config.Config
	Storage       attach.Storage
	Signer        *sign.Signer
	Registry      *registry.Client
	HardenVersion string
	Getenv        func(string) string
	Log           func(format string, args ...any)
	Now           func() time.Time
	// KeepFacts: see Attester.KeepFacts.
	KeepFacts bool
}

// Release reads the release record and the subjects it names: the index
// and every platform manifest.
func Release(p Params) (*publish.Release, []name.Digest, error) {
	path := p.ReleasePath
	if path == "" {
		path = filepath.Join(p.Out, "release.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("read release record: %w; run harden publish first (or pass --out)", err))
	}
	var rel publish.Release
	if err := json.Unmarshal(b, &rel); err != nil {
		return nil, nil, errs.Input(fmt.Errorf("%s is not a release record: %w", path, err))
	}
	if rel.SchemaVersion != publish.ReleaseSchema {
		return nil, nil, errs.Input(fmt.Errorf("%s: unknown release record schema %q; publish again with this harden", path, rel.SchemaVersion))
	}
	idx, err := name.NewDigest(rel.Image)
	if err != nil {
		return nil, nil, errs.Input(fmt.Errorf("%s: image %q: %w", path, rel.Image, err))
	}
	subs := []name.Digest{idx}
	for _, pl := range rel.Platforms {
		d, err := name.NewDigest(pl.Image)
		if err != nil {
			return nil, nil, errs.Input(fmt.Errorf("%s: platform image %q: %w", path, pl.Image, err))
		}
		subs = append(subs, d)
	}
	return &rel, subs, nil
}

func (p Params) attester() *Attester {
	return &Attester{Signer: p.Signer, Store: attach.New(p.Registry), Storage: p.Storage, Log: p.Log, Now: p.Now, KeepFacts: p.KeepFacts}
}

// SignRelease signs the published index and each platform manifest.
func SignRelease(ctx context.Context, p Params) (*Report, error) {
	_, subs, err := Release(p)
	if err != nil {
		return nil, err
	}
	return p.attester().Sign(ctx, subs)
}

// AttestRelease makes the statements of the given types for the
// published image, signs them and attaches each to its subjects.
func AttestRelease(ctx context.Context, p Params, types []string) (*Report, error) {
	rel, subs, err := Release(p)
	if err != nil {
		return nil, err
	}
	stmts, err := Statements(ctx, p, rel, subs, types)
	if err != nil {
		return nil, err
	}
	return p.attester().Attest(ctx, stmts)
}

// Statements builds the in-toto statements for the release.
func Statements(ctx context.Context, p Params, rel *publish.Release, subs []name.Digest, types []string) ([]Statement, error) {
	_, rec, err := buildrecord.ReadOutput(p.Out)
	if err != nil {
		return nil, err
	}
	if rec.Digest != rel.Digest {
		return nil, errs.Input(fmt.Errorf("the build in %s is %s but the release record names %s; publish this build first", p.Out, rec.Digest, rel.Digest))
	}
	getenv := p.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var out []Statement
	var sboms []*sbom.SBOM
	for _, t := range types {
		switch t {
		case TypeSLSA:
			b, err := provenance.DetectBuilder(getenv, p.HardenVersion)
			if err != nil {
				return nil, errs.Input(err)
			}
			st, err := provenance.Statement(provenance.Params{Record: rec, Config: p.Config, Repository: rel.Repository, Builder: b})
			if err != nil {
				return nil, err
			}
			raw, err := provenance.Marshal(st)
			if err != nil {
				return nil, err
			}
			out = append(out, Statement{PredicateType: provenance.PredicateType, Payload: raw, AttachTo: subs})
		case TypeVuln:
			for i, pl := range rel.Platforms {
				pr, err := scan.ReadFile(filepath.Join(p.Out, "scan"), pl.Platform, pl.Digest)
				if err != nil {
					return nil, err
				}
				if pr == nil {
					return nil, errs.Input(fmt.Errorf("no scan report for %s (%s) in %s; scan the image first (harden release runs the scan stage)", pl.Platform, pl.Digest, filepath.Join(p.Out, "scan")))
				}
				st, err := vulnStatement(pr, subs[i+1], subs[0])
				if err != nil {
					return nil, err
				}
				out = append(out, Statement{PredicateType: scan.PredicateType, Payload: st, AttachTo: []name.Digest{subs[i+1], subs[0]}})
			}
		case TypeSPDX, TypeCycloneDX:
			f := sbom.SPDXJSON
			if t == TypeCycloneDX {
				f = sbom.CycloneDXJSON
			}
			for _, pl := range rec.Platforms {
				// The sbom stage's files are used when they were made for
				// this image (they passed the lock check when written).
				doc, err := sbom.ReadFile(filepath.Join(p.Out, "sbom"), rel.Repository, pl.Platform, pl.Digest, f)
				if err != nil {
					return nil, err
				}
				if doc == nil {
					if sboms == nil {
						if sboms, err = sbom.ForBuild(ctx, p.Out, sbom.Options{
							Epoch: time.Unix(rec.SourceDateEpoch, 0).UTC(), ToolName: "harden", ToolVersion: p.HardenVersion, Name: rel.Repository}); err != nil {
							return nil, err
						}
					}
					for _, s := range sboms {
						if s.Digest == pl.Digest {
							if doc, err = s.Encode(f); err != nil {
								return nil, err
							}
						}
					}
					if doc == nil {
						return nil, fmt.Errorf("no SBOM was made for %s (%s)", pl.Platform, pl.Digest)
					}
				}
				st, attachTo, err := sbomStatement(doc, pl.Platform, pl.Digest, f, rel, subs[0])
				if err != nil {
					return nil, err
				}
				out = append(out, Statement{PredicateType: f.PredicateType(), Payload: st, AttachTo: attachTo})
			}
		}
	}
	return out, nil
}

// sbomStatement wraps one platform's SBOM in a statement whose subjects
// are the platform manifest and the index, so that a verifier of either
// finds it.
func sbomStatement(doc []byte, platform, digest string, f sbom.Format, rel *publish.Release, index name.Digest) ([]byte, []name.Digest, error) {
	plat := index.Context().Digest(digest)
	hexOf := func(d name.Digest) (string, error) { return hashOf(d) }
	ph, err := hexOf(plat)
	if err != nil {
		return nil, nil, err
	}
	ih, err := hexOf(index)
	if err != nil {
		return nil, nil, err
	}
	type subject struct {
		Name        string            `json:"name"`
		Digest      map[string]string `json:"digest"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	st := struct {
		Type          string          `json:"_type"`
		Subject       []subject       `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}{
		Type: "https://in-toto.io/Statement/v1",
		Subject: []subject{
			{Name: rel.Repository, Digest: map[string]string{"sha256": ph}, Annotations: map[string]string{"platform": platform}},
			{Name: rel.Repository, Digest: map[string]string{"sha256": ih}},
		},
		PredicateType: f.PredicateType(),
		Predicate:     doc,
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, nil, fmt.Errorf("encode SBOM statement: %w", err)
	}
	return raw, []name.Digest{plat, index}, nil
}

// vulnStatement wraps a platform's scan in a statement whose subjects
// are the platform manifest it scanned and, as for SBOMs, the index, so
// that verifiers and admission policies of either find it.
func vulnStatement(pr *scan.PlatformReport, plat, index name.Digest) ([]byte, error) {
	ph, err := hashOf(plat)
	if err != nil {
		return nil, err
	}
	ih, err := hashOf(index)
	if err != nil {
		return nil, err
	}
	pred, err := json.Marshal(pr.Report.Predicate())
	if err != nil {
		return nil, fmt.Errorf("encode vulnerability predicate: %w", err)
	}
	st := map[string]any{
		"_type": "https://in-toto.io/Statement/v1",
		"subject": []any{
			map[string]any{"name": plat.Context().String(), "digest": map[string]string{"sha256": ph}, "annotations": map[string]string{"platform": pr.Platform}},
			map[string]any{"name": index.Context().String(), "digest": map[string]string{"sha256": ih}},
		},
		"predicateType": scan.PredicateType,
		"predicate":     json.RawMessage(pred),
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode vulnerability statement: %w", err)
	}
	return raw, nil
}

// WriteSBOMs generates the SBOMs of the build in out and writes them to
// dir (default <out>/sbom), returning the files written.
func WriteSBOMs(ctx context.Context, out, dir string, formats []sbom.Format, repo, version string) ([]string, error) {
	_, rec, err := buildrecord.ReadOutput(out)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		dir = filepath.Join(out, "sbom")
	}
	sboms, err := sbom.ForBuild(ctx, out, sbom.Options{
		Epoch: time.Unix(rec.SourceDateEpoch, 0).UTC(), ToolName: "harden", ToolVersion: version, Name: repo})
	if err != nil {
		return nil, err
	}
	return sbom.WriteFiles(dir, sboms, formats...)
}
