// Package pep740test makes PEP 740 provenance objects for tests: in-toto
// statements signed as DSSE through a local Sigstore stack
// (sigstoretest) with GitHub Actions-shaped certificates, converted to the
// attestation objects an index such as PyPI serves.
package pep740test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/harden-dev/harden/internal/pep740"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// Statement is the in-toto statement of a PyPI publish attestation for
// one file.
func Statement(filename, sha256hex string) []byte {
	b, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": filename, "digest": map[string]string{"sha256": sha256hex}}},
		"predicateType": pep740.PublishPredicateType,
		"predicate":     nil,
	})
	return b
}

// Attest signs the publish attestation of filename (sha256hex) as the
// GitHub workflow run c describes, through s, and returns the
// attestation object.
func Attest(ctx context.Context, s *sigstoretest.Stack, c sigstoretest.GitHubClaims, filename, sha256hex string) (json.RawMessage, error) {
	tok, err := s.Issuer.MintGitHub(c, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	opts, err := bundleOptions(ctx, s, tok)
	if err != nil {
		return nil, err
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, err
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: Statement(filename, sha256hex), PayloadType: pep740.InTotoPayloadType}, kp, opts)
	if err != nil {
		return nil, fmt.Errorf("sign the attestation of %s: %w", filename, err)
	}
	return FromBundle(pb)
}

// bundleOptions signs keyless with the services of the stack's signing
// config.
func bundleOptions(ctx context.Context, s *sigstoretest.Stack, idToken string) (sign.BundleOptions, error) {
	now := time.Now()
	sc := s.SigningConfig
	fulcio, err := root.SelectService(sc.FulcioCertificateAuthorityURLs(), sign.FulcioAPIVersions, now)
	if err != nil {
		return sign.BundleOptions{}, err
	}
	rekors, err := root.SelectServices(sc.RekorLogURLs(), sc.RekorLogURLsConfig(), sign.RekorAPIVersions, now)
	if err != nil {
		return sign.BundleOptions{}, err
	}
	tsas, err := root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), sign.TimestampAuthorityAPIVersions, now)
	if err != nil {
		return sign.BundleOptions{}, err
	}
	o := sign.BundleOptions{
		Context:                    ctx,
		CertificateProvider:        sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcio.URL}),
		CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: idToken},
	}
	for _, svc := range tsas {
		o.TimestampAuthorities = append(o.TimestampAuthorities, sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: svc.URL}))
	}
	for _, svc := range rekors {
		o.TransparencyLogs = append(o.TransparencyLogs, sign.NewRekor(&sign.RekorOptions{BaseURL: svc.URL, Version: svc.MajorAPIVersion}))
	}
	return o, nil
}

// FromBundle converts a Sigstore bundle of a DSSE envelope with one
// signature into a PEP 740 attestation object: the inverse of
// pep740.Attestation.Bundle.
func FromBundle(pb *protobundle.Bundle) (json.RawMessage, error) {
	env := pb.GetDsseEnvelope()
	vm := pb.GetVerificationMaterial()
	cert := vm.GetCertificate().GetRawBytes()
	if env == nil || len(env.GetSignatures()) != 1 || len(cert) == 0 {
		return nil, errors.New("want a bundle of a DSSE envelope with one signature and a leaf certificate")
	}
	enc := base64.StdEncoding.EncodeToString
	var entries []json.RawMessage
	for _, e := range vm.GetTlogEntries() {
		raw, err := protojson.Marshal(e)
		if err != nil {
			return nil, err
		}
		entries = append(entries, raw)
	}
	var stamps []string
	for _, ts := range vm.GetTimestampVerificationData().GetRfc3161Timestamps() {
		stamps = append(stamps, enc(ts.GetSignedTimestamp()))
	}
	material := map[string]any{"certificate": enc(cert), "transparency_entries": entries}
	if len(stamps) > 0 {
		material["timestamps"] = stamps
	}
	return json.Marshal(map[string]any{
		"version":               1,
		"verification_material": material,
		"envelope": map[string]string{
			"statement": enc(env.GetPayload()),
			"signature": enc(env.GetSignatures()[0].GetSig()),
		},
	})
}

// Provenance composes a provenance object of one attestation bundle.
func Provenance(pub pep740.Publisher, atts ...json.RawMessage) []byte {
	p := map[string]any{"kind": pub.Kind}
	switch pub.Kind {
	case pep740.KindGitLab:
		p["repository"], p["workflow_filepath"] = pub.Repository, pub.Workflow
	case pep740.KindGoogle:
		p["email"] = pub.Email
	default:
		p["repository"], p["workflow"] = pub.Repository, pub.Workflow
	}
	if pub.Environment != "" {
		p["environment"] = pub.Environment
	} else {
		p["environment"] = nil
	}
	b, _ := json.Marshal(map[string]any{
		"version":             1,
		"attestation_bundles": []any{map[string]any{"publisher": p, "attestations": atts}},
	})
	return b
}
