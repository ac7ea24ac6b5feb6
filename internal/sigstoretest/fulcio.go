package sigstoretest

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/sigstore/fulcio/pkg/ca/ephemeralca"
	"github.com/sigstore/fulcio/pkg/config"
	fulciogw "github.com/sigstore/fulcio/pkg/generated/protobuf"
	"github.com/sigstore/fulcio/pkg/identity"
	"github.com/sigstore/fulcio/pkg/server"
	v1 "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/grpc/metadata"
)

// fulcio is an in-process Fulcio serving only its REST gateway.
type fulcio struct {
	handler http.Handler
	chain   []*x509.Certificate // issuing chain, root last
}

// newFulcio builds a Fulcio with an ephemeral CA that trusts one email
// issuer, and GitHub Actions tokens (GitHubIssuerURL) signed with
// githubKey. The email issuer must already be serving: reading the config
// runs OIDC discovery against it.
func newFulcio(ctx context.Context, issuerURL string, githubKey crypto.PublicKey) (*fulcio, error) {
	raw, err := json.Marshal(map[string]any{
		"OIDCIssuers": map[string]any{
			issuerURL: map[string]string{
				"IssuerURL": issuerURL,
				"ClientID":  Audience,
				"Type":      config.IssuerTypeEmail,
			},
		},
		// A meta issuer, because Fulcio runs no discovery for those when
		// it reads its config; githubIssuer below authenticates its tokens.
		"MetaIssuers": map[string]any{
			GitHubIssuerURL: map[string]string{
				"ClientID": Audience,
				"Type":     config.IssuerTypeGithubWorkflow,
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("fulcio config: %w", err)
	}
	cfg, err := config.Read(raw)
	if err != nil {
		return nil, fmt.Errorf("fulcio config: %w", err)
	}
	ca, err := ephemeralca.NewEphemeralCA()
	if err != nil {
		return nil, fmt.Errorf("fulcio ephemeral CA: %w", err)
	}
	bundle, err := ca.TrustBundle(ctx)
	if err != nil {
		return nil, fmt.Errorf("fulcio trust bundle: %w", err)
	}
	if len(bundle) == 0 || len(bundle[0]) == 0 {
		return nil, errors.New("fulcio trust bundle is empty")
	}
	// The same client algorithms a default Fulcio deployment accepts.
	algs, err := signature.NewAlgorithmRegistryConfig([]v1.PublicKeyDetails{
		v1.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
		v1.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384,
		v1.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512,
		v1.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256,
		v1.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256,
		v1.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256,
		v1.PublicKeyDetails_PKIX_ED25519,
	})
	if err != nil {
		return nil, fmt.Errorf("fulcio algorithm registry: %w", err)
	}
	// No CT log client: certificates carry no SCTs, so verifiers must not
	// require them.
	// The pool takes the first issuer that matches a token: githubIssuer
	// goes before the one NewIssuerPool makes of the meta issuer, which
	// would fetch GitHub's keys over the network.
	pool := append(identity.IssuerPool{newGitHubIssuer(githubKey)}, server.NewIssuerPool(cfg)...)
	grpcServer := server.NewGRPCCAServer(nil, ca, algs, pool)

	// The gateway hands the bearer token to the CA as gRPC metadata, as
	// Fulcio's own HTTP server does.
	mux := runtime.NewServeMux(runtime.WithMetadata(func(_ context.Context, r *http.Request) metadata.MD {
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		return metadata.Pairs(server.MetadataOIDCTokenKey, token)
	}))
	if err := fulciogw.RegisterCAHandlerServer(ctx, mux, grpcServer); err != nil {
		return nil, fmt.Errorf("fulcio gateway: %w", err)
	}
	// Fulcio reads its config from the request context (a gRPC interceptor
	// in the real server); there is no interceptor here, so inject it.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(config.With(r.Context(), cfg)))
	})
	return &fulcio{handler: h, chain: bundle[0]}, nil
}
