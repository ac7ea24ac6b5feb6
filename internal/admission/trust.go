package admission

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/harden-dev/harden/internal/errs"
)

// Trust is the trust material of a private Sigstore, written into policies
// whose engines take it inline rather than from a TUF repository.
type Trust struct {
	CAs    []Authority // Fulcio
	TSAs   []Authority // RFC 3161 timestamp authorities
	TLogs  []Log       // Rekor
	CTLogs []Log
}

// Authority is a certificate authority and its chain.
type Authority struct {
	URI          string
	Organization string
	CommonName   string
	// Chain is PEM, leaf (TSAs only) first, root last.
	Chain string
}

// Log is a transparency log and its key.
type Log struct {
	BaseURL       string
	HashAlgorithm string // "sha256"
	PublicKey     string // PEM
}

// LoadTrust reads a Sigstore trusted root (trusted_root.json, as harden
// sign and verify take with --trusted-root).
func LoadTrust(path string) (*Trust, error) {
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Input(fmt.Errorf("--trusted-root %s: no such file; pass the trusted_root.json of the Sigstore that signs releases", path))
		}
		return nil, errs.Input(fmt.Errorf("--trusted-root %s: %w; pass a Sigstore trusted root (application/vnd.dev.sigstore.trustedroot+json)", path, err))
	}
	t := &Trust{}
	for _, ca := range tr.FulcioCertificateAuthorities() {
		f, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok || f.Root == nil {
			continue
		}
		t.CAs = append(t.CAs, authority(f.URI, nil, f.Intermediates, f.Root))
	}
	for _, ta := range tr.TimestampingAuthorities() {
		s, ok := ta.(*root.SigstoreTimestampingAuthority)
		if !ok || s.Root == nil {
			continue
		}
		t.TSAs = append(t.TSAs, authority(s.URI, s.Leaf, s.Intermediates, s.Root))
	}
	if t.TLogs, err = logs(tr.RekorLogs()); err != nil {
		return nil, errs.Input(fmt.Errorf("--trusted-root %s: transparency log: %w", path, err))
	}
	if t.CTLogs, err = logs(tr.CTLogs()); err != nil {
		return nil, errs.Input(fmt.Errorf("--trusted-root %s: CT log: %w", path, err))
	}
	if len(t.CAs) == 0 {
		return nil, errs.Input(fmt.Errorf("--trusted-root %s names no certificate authority; keyless policies need the Fulcio chain", path))
	}
	return t, nil
}

func authority(uri string, leaf *x509.Certificate, intermediates []*x509.Certificate, rootCert *x509.Certificate) Authority {
	var chain bytes.Buffer
	for _, c := range slices.Concat([]*x509.Certificate{leaf}, intermediates, []*x509.Certificate{rootCert}) {
		if c != nil {
			_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	}
	a := Authority{URI: uri, Chain: chain.String(), CommonName: rootCert.Subject.CommonName}
	if len(rootCert.Subject.Organization) > 0 {
		a.Organization = rootCert.Subject.Organization[0]
	}
	return a
}

// logs lists transparency logs in a stable order (by base URL).
func logs(m map[string]*root.TransparencyLog) ([]Log, error) {
	var out []Log
	for _, l := range m {
		der, err := x509.MarshalPKIXPublicKey(l.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.BaseURL, err)
		}
		out = append(out, Log{
			BaseURL:       l.BaseURL,
			HashAlgorithm: hashName(l.HashFunc),
			PublicKey:     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		})
	}
	slices.SortFunc(out, func(a, b Log) int { return strings.Compare(a.BaseURL+a.PublicKey, b.BaseURL+b.PublicKey) })
	return out, nil
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA384:
		return "sha384"
	case crypto.SHA512:
		return "sha512"
	}
	return "sha256"
}

// fulcioRoots is every CA chain, PEM, as Kyverno's keyless roots take it.
func (t *Trust) fulcioRoots() string {
	var b strings.Builder
	for _, ca := range t.CAs {
		b.WriteString(ca.Chain)
	}
	return b.String()
}
