package sigstoretest

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// operator names this deployment in the signing config; service selection
// picks at most one service per operator.
const operator = "sigstoretest"

// trustInputs is everything the trusted root and signing config describe.
type trustInputs struct {
	issuerURL   string
	fulcioURL   string
	fulcioChain []*x509.Certificate // root last
	tsaURL      string              // base URL
	tsaChain    []*x509.Certificate // leaf first, root last
	rekor       *rekor
	validFrom   time.Time
}

// buildTrustedRoot describes the stack's Fulcio CA, TSA and Rekor v2 log.
func buildTrustedRoot(in trustInputs) (*root.TrustedRoot, error) {
	fc := in.fulcioChain
	ca := &root.FulcioCertificateAuthority{
		Root:                fc[len(fc)-1],
		Intermediates:       fc[:len(fc)-1],
		ValidityPeriodStart: in.validFrom,
		URI:                 in.fulcioURL,
	}
	tc := in.tsaChain
	tsa := &root.SigstoreTimestampingAuthority{
		Leaf:                tc[0],
		Intermediates:       tc[1 : len(tc)-1],
		Root:                tc[len(tc)-1],
		ValidityPeriodStart: in.validFrom,
		URI:                 in.tsaURL,
	}
	tlog := &root.TransparencyLog{
		BaseURL:             in.rekor.url,
		ID:                  in.rekor.logID,
		ValidityPeriodStart: in.validFrom,
		HashFunc:            crypto.SHA256,
		PublicKey:           in.rekor.pub,
		SignatureHashFunc:   crypto.SHA256,
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{ca},
		nil, // no CT log: the in-process Fulcio issues certificates without SCTs
		[]root.TimestampingAuthority{tsa},
		map[string]*root.TransparencyLog{hex.EncodeToString(in.rekor.logID): tlog},
	)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	return tr, nil
}

// buildSigningConfig lists one service of each kind with the API versions
// sigstore-go's signers select on: Fulcio 1, OIDC 1, Rekor 2, TSA 1. The
// TSA entry is the full timestamp endpoint, not the base URL.
func buildSigningConfig(in trustInputs) (*root.SigningConfig, error) {
	svc := func(url string, major uint32) root.Service {
		return root.Service{URL: url, MajorAPIVersion: major, ValidityPeriodStart: in.validFrom, Operator: operator}
	}
	sc, err := root.NewSigningConfig(root.SigningConfigMediaType02,
		[]root.Service{svc(in.fulcioURL, 1)},
		[]root.Service{svc(in.issuerURL, 1)},
		[]root.Service{svc(in.rekor.url, 2)},
		root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
		[]root.Service{svc(in.tsaURL+TimestampPath, 1)},
		root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
	)
	if err != nil {
		return nil, fmt.Errorf("signing config: %w", err)
	}
	return sc, nil
}

// writeJSONFile writes v's MarshalJSON form (protojson) to path.
func writeJSONFile(path string, v interface{ MarshalJSON() ([]byte, error) }) error {
	b, err := v.MarshalJSON()
	if err != nil {
		return fmt.Errorf("marshal %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
