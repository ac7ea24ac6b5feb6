package sign

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/wording"
)

// fulcioConfiguration is Fulcio's GET /api/v2/configuration: the OIDC
// issuers it issues certificates for.
type fulcioConfiguration struct {
	Issuers []struct {
		IssuerURL         string `json:"issuerUrl"`
		WildcardIssuerURL string `json:"wildcardIssuerUrl"`
	} `json:"issuers"`
}

// CheckIssuer proves, without asking for a certificate (it would expire
// before a long build ends), that tok can get one: it has not expired
// and its issuer is one the signing config's Fulcio accepts.
func CheckIssuer(ctx context.Context, trust *Trust, tok *Token, hc *http.Client, now func() time.Time) (string, error) {
	if now == nil {
		now = time.Now
	}
	if err := tok.check(now); err != nil {
		return "", errs.Input(err)
	}
	c, _ := tok.Claims()
	if trust == nil || trust.Config == nil {
		return "", errs.Input(fmt.Errorf("keyless signing needs a signing config: pass --signing-config FILE or let harden fetch the public-good one"))
	}
	svc, err := root.SelectService(trust.Config.FulcioCertificateAuthorityURLs(), sgsign.FulcioAPIVersions, now())
	if err != nil {
		return "", errs.Input(fmt.Errorf("signing config names no usable Fulcio: %w", err))
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimSuffix(svc.URL, "/") + "/api/v2/configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("fulcio configuration: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", errs.Unreachable(fmt.Errorf("read Fulcio's configuration at %s: %w", u, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", errs.Unreachable(fmt.Errorf("read Fulcio's configuration at %s: %s", u, resp.Status))
	}
	var fc fulcioConfiguration
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&fc); err != nil {
		return "", errs.Unreachable(fmt.Errorf("read Fulcio's configuration at %s: %w", u, err))
	}
	for _, is := range fc.Issuers {
		if is.IssuerURL != "" && is.IssuerURL == c.Issuer {
			return fmt.Sprintf("%s accepted by %s", tok, svc.URL), nil
		}
		if is.WildcardIssuerURL != "" {
			if ok, _ := path.Match(is.WildcardIssuerURL, c.Issuer); ok {
				return fmt.Sprintf("%s accepted by %s", tok, svc.URL), nil
			}
		}
	}
	return "", errs.Input(fmt.Errorf("the %s comes from an issuer Fulcio %s does not accept (it accepts %s); use a token from one it trusts, or point --signing-config at the Fulcio for this issuer", tok, svc.URL, wording.Count(len(fc.Issuers), "issuer")))
}
