package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/provenance"
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

// Types are the values --type accepts: AllTypes and TypeVuln.
func Types() []string { return []string{TypeSLSA, TypeSPDX, TypeCycloneDX, TypeVuln} }

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
	// TUF keeps what TUF repositories gave for later loads; nil: none.
	TUF *sign.TUFReader
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
				Offline: p.Offline, CacheDir: p.CacheDir, TUF: p.TUF}); err != nil {
				return sign.Options{}, err
			}
		}
		return sign.Options{Trust: trust, Key: sv}, nil
	}
	trust, err := sign.LoadTrust(sign.TrustOptions{TrustedRootPath: p.TrustedRoot, SigningConfigPath: p.SigningConfig,
		Offline: p.Offline, CacheDir: p.CacheDir, NeedSigningConfig: true, TUF: p.TUF})
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

// Params are how to sign and attest: the signer, where the entries go
// and what the provenance says about the builder.
type Params struct {
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

// Facts are what the statements say: the build, where it was published,
// its SBOMs and its scan reports.
type Facts struct {
	Record  *buildrecord.Record
	Release *dist.Release
	SBOMs   []sbom.Document       // for TypeSPDX and TypeCycloneDX
	Scans   []scan.PlatformReport // for TypeVuln
}

// LoadFacts reads, for harden attest, what the earlier stages left in
// the output directory for the statements of types: the build record
// and the SBOM and scan files. It makes none of them: a missing file is
// an error naming the command that writes it.
func LoadFacts(out dist.Dir, rel *dist.Release, types []string) (*Facts, error) {
	_, rec, err := out.Build()
	if err != nil {
		return nil, err
	}
	if rec.Digest != rel.Digest {
		return nil, errs.Input(fmt.Errorf("the build in %s is %s but the release record names %s; publish this build first", out, rec.Digest, rel.Digest))
	}
	f := &Facts{Record: rec, Release: rel}
	for _, t := range types {
		switch t {
		case TypeSPDX, TypeCycloneDX:
			format := formatOf(t)
			for _, pl := range rec.Platforms {
				doc, err := dist.ReadSBOM(out.SBOMs(), rel.Repository, pl.Platform, pl.Digest, format)
				if err != nil {
					return nil, err
				}
				if doc == nil {
					return nil, errs.Input(fmt.Errorf("no %s SBOM of %s (%s) for %s in %s; write it with harden sbom --out %s (harden release does this in its sbom stage)",
						format, pl.Platform, pl.Digest, rel.Repository, out.SBOMs(), out))
				}
				f.SBOMs = append(f.SBOMs, *doc)
			}
		case TypeVuln:
			for _, pl := range rel.Platforms {
				pr, err := out.ReadScan(pl.Platform, pl.Digest)
				if err != nil {
					return nil, err
				}
				if pr == nil {
					return nil, errs.Input(fmt.Errorf("no scan report for %s (%s) in %s; scan the image first (harden release runs the scan stage)", pl.Platform, pl.Digest, out.Scans()))
				}
				f.Scans = append(f.Scans, *pr)
			}
		}
	}
	return f, nil
}

func formatOf(t string) sbom.Format {
	if t == TypeCycloneDX {
		return sbom.CycloneDXJSON
	}
	return sbom.SPDXJSON
}

func (p Params) attester() *Attester {
	return &Attester{Signer: p.Signer, Store: attach.New(p.Registry), Storage: p.Storage, Log: p.Log, Now: p.Now, KeepFacts: p.KeepFacts}
}

// SignRelease signs the published index and each platform manifest.
func SignRelease(ctx context.Context, p Params, rel *dist.Release) (*Report, error) {
	subs, err := rel.Subjects()
	if err != nil {
		return nil, err
	}
	return p.attester().Sign(ctx, subs)
}

// AttestRelease makes the statements of the given types for the
// published image, signs them and attaches each to its subjects.
func AttestRelease(ctx context.Context, p Params, f *Facts, types []string) (*Report, error) {
	stmts, err := Statements(p, f, types)
	if err != nil {
		return nil, err
	}
	return p.attester().Attest(ctx, stmts)
}

// SignAndAttestRelease is SignRelease and AttestRelease in one pass: every
// statement is built before anything is signed, and the signatures and
// attestations are logged in one batch (one wait for the log instead of
// two). The reports are those of the two calls.
func SignAndAttestRelease(ctx context.Context, p Params, rel *dist.Release, f *Facts, types []string) (signs, atts *Report, err error) {
	subs, err := rel.Subjects()
	if err != nil {
		return nil, nil, err
	}
	stmts, err := Statements(p, f, types)
	if err != nil {
		return nil, nil, err
	}
	return p.attester().SignAndAttest(ctx, subs, stmts)
}

// Statements builds the in-toto statements of the given types. Every
// platform of the release needs its SBOM (per SBOM type) and scan report
// (for TypeVuln) among the facts.
func Statements(p Params, f *Facts, types []string) ([]Statement, error) {
	rel, rec := f.Release, f.Record
	if rec.Digest != rel.Digest {
		return nil, errs.Input(fmt.Errorf("the build is %s but the release record names %s; publish this build first", rec.Digest, rel.Digest))
	}
	subs, err := rel.Subjects()
	if err != nil {
		return nil, err
	}
	getenv := p.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var out []Statement
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
				pr := findScan(f.Scans, pl)
				if pr == nil {
					return nil, errs.Input(fmt.Errorf("no scan report for %s (%s); scan the image first (harden release runs the scan stage)", pl.Platform, pl.Digest))
				}
				st, err := vulnStatement(pr, subs[i+1], subs[0])
				if err != nil {
					return nil, err
				}
				out = append(out, Statement{PredicateType: scan.PredicateType, Payload: st, AttachTo: []name.Digest{subs[i+1], subs[0]}})
			}
		case TypeSPDX, TypeCycloneDX:
			format := formatOf(t)
			for _, pl := range rec.Platforms {
				doc := findSBOM(f.SBOMs, pl.Platform, pl.Digest, format)
				if doc == nil {
					return nil, errs.Input(fmt.Errorf("no %s SBOM of %s (%s); run harden sbom first (harden release runs the sbom stage)", format, pl.Platform, pl.Digest))
				}
				st, attachTo, err := sbomStatement(doc.Bytes, pl.Platform, pl.Digest, format, rel, subs[0])
				if err != nil {
					return nil, err
				}
				out = append(out, Statement{PredicateType: format.PredicateType(), Payload: st, AttachTo: attachTo})
			}
		}
	}
	return out, nil
}

func findScan(prs []scan.PlatformReport, pl dist.Platform) *scan.PlatformReport {
	for i := range prs {
		if prs[i].Platform == pl.Platform && prs[i].Digest == pl.Digest {
			return &prs[i]
		}
	}
	return nil
}

func findSBOM(docs []sbom.Document, platform, digest string, f sbom.Format) *sbom.Document {
	for i := range docs {
		if d := &docs[i]; d.Platform == platform && d.Digest == digest && d.Format == f {
			return d
		}
	}
	return nil
}

// sbomStatement wraps one platform's SBOM in a statement whose subjects
// are the platform manifest and the index, so that a verifier of either
// finds it.
func sbomStatement(doc []byte, platform, digest string, f sbom.Format, rel *dist.Release, index name.Digest) ([]byte, []name.Digest, error) {
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
