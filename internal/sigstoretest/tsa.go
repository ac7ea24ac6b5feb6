package sigstoretest

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	tsaserver "github.com/sigstore/timestamp-authority/v2/pkg/server"
	"github.com/spf13/viper"
)

// TimestampPath is the RFC 3161 endpoint below a TSA base URL.
const TimestampPath = "/api/v1/timestamp"

// tsaPolicyOID is the timestamp policy the public Sigstore TSA uses.
const tsaPolicyOID = "1.3.6.1.4.1.57264.2"

// sharedTSA is the process's one timestamp-authority handler. The TSA
// library keeps its configuration in the global viper instance and its
// signer in a pkg/api global, so a second instance would replace the
// first's key under its feet; every Stack serves this one handler from its
// own listener instead.
var sharedTSA struct {
	once    sync.Once
	handler http.Handler
	err     error
}

// tsaHandler returns the shared TSA handler, creating it on first use with
// an in-memory signer, SHA-256 and no NTP monitoring (which would need the
// internet; the server command starts it, the handler never does).
func tsaHandler() (http.Handler, error) {
	sharedTSA.once.Do(func() {
		sharedTSA.handler, sharedTSA.err = newTSAHandler()
	})
	return sharedTSA.handler, sharedTSA.err
}

func newTSAHandler() (h http.Handler, err error) {
	for k, v := range map[string]any{
		"timestamp-signer":          "memory",
		"timestamp-signer-hash":     "sha256",
		"disable-ntp-monitoring":    true,
		"include-chain-in-response": false,
		"default-policy-oid":        tsaPolicyOID,
		"accepted-policy-oids":      []string{tsaPolicyOID},
		"max-request-body-size":     uint64(1 << 20),
	} {
		viper.Set(k, v)
	}
	// The library panics (through its logger) when its API cannot start.
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("start timestamp authority: %v", r)
		}
	}()
	// Host, port and scheme are unused: only the handler is taken.
	srv := tsaserver.NewRestAPIServer("127.0.0.1", 0, []string{"http"}, false, 10*time.Second, 10*time.Second)
	h = srv.GetHandler()
	if h == nil {
		return nil, fmt.Errorf("start timestamp authority: no HTTP handler")
	}
	return h, nil
}

// fetchTSAChain downloads the TSA's certificate chain (leaf first, root
// last) from its certchain endpoint.
func fetchTSAChain(ctx context.Context, baseURL string) ([]*x509.Certificate, error) {
	u := baseURL + TimestampPath + "/certchain"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("tsa cert chain: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tsa cert chain: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("tsa cert chain: read %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("tsa cert chain: GET %s: %s: %s", u, resp.Status, body)
	}
	chain, err := cryptoutils.UnmarshalCertificatesFromPEM(body)
	if err != nil {
		return nil, fmt.Errorf("tsa cert chain: parse PEM: %w", err)
	}
	if len(chain) < 2 {
		return nil, fmt.Errorf("tsa cert chain: want leaf..root, got %d certificate(s)", len(chain))
	}
	return chain, nil
}
