package sigstoretest

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const (
	signerEmail     = "builder@example.com"
	bundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	inTotoType      = "application/vnd.in-toto+json"
)

func startTimed(t *testing.T) *Stack {
	t.Helper()
	start := time.Now()
	s := Start(t)
	t.Logf("Start took %s", time.Since(start).Round(time.Millisecond))
	return s
}

// bundleOptions configures keyless signing the way a production signer
// would: every service comes from the parsed signing config.
func bundleOptions(t *testing.T, s *Stack, idToken string) sign.BundleOptions {
	t.Helper()
	now := time.Now()
	sc := s.SigningConfig
	fulcioSvc, err := root.SelectService(sc.FulcioCertificateAuthorityURLs(), sign.FulcioAPIVersions, now)
	if err != nil {
		t.Fatalf("select Fulcio: %v", err)
	}
	rekorSvcs, err := root.SelectServices(sc.RekorLogURLs(), sc.RekorLogURLsConfig(), sign.RekorAPIVersions, now)
	if err != nil {
		t.Fatalf("select Rekor: %v", err)
	}
	tsaSvcs, err := root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), sign.TimestampAuthorityAPIVersions, now)
	if err != nil {
		t.Fatalf("select TSA: %v", err)
	}
	opts := sign.BundleOptions{
		Context:                    t.Context(),
		CertificateProvider:        sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcioSvc.URL}),
		CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: idToken},
	}
	for _, svc := range tsaSvcs {
		opts.TimestampAuthorities = append(opts.TimestampAuthorities,
			sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: svc.URL}))
	}
	for _, svc := range rekorSvcs {
		opts.TransparencyLogs = append(opts.TransparencyLogs,
			sign.NewRekor(&sign.RekorOptions{BaseURL: svc.URL, Version: svc.MajorAPIVersion}))
	}
	return opts
}

// verifyBundle verifies pb, after a JSON round trip, against the stack's
// trusted root for artifact and the given identity.
func verifyBundle(t *testing.T, s *Stack, pb *protobundle.Bundle, artifact []byte, issuer, san string) (*verify.VerificationResult, error) {
	t.Helper()
	raw, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatalf("marshal bundle: %v", err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		t.Fatalf("parse bundle JSON: %v", err)
	}
	// Rekor v2 has no integrated time: the signed timestamp is the
	// observer time.
	v, err := verify.NewVerifier(s.TrustedRoot, verify.WithSignedTimestamps(1), verify.WithTransparencyLog(1))
	if err != nil {
		t.Fatalf("new verifier: %v", err)
	}
	id, err := verify.NewShortCertificateIdentity(issuer, "", san, "")
	if err != nil {
		t.Fatalf("certificate identity: %v", err)
	}
	return v.Verify(&b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), verify.WithCertificateIdentity(id)))
}

func TestKeylessSignAndVerify(t *testing.T) {
	t.Parallel()
	s := startTimed(t)

	artifact := []byte("harden test artifact\n")
	sum := sha256.Sum256(artifact)
	statement, err := json.Marshal(map[string]any{
		"_type": "https://in-toto.io/Statement/v1",
		"subject": []any{map[string]any{
			"name":   "artifact.txt",
			"digest": map[string]string{"sha256": hex.EncodeToString(sum[:])},
		}},
		"predicateType": "https://slsa.dev/provenance/v1",
		"predicate": map[string]any{
			"buildDefinition": map[string]any{"buildType": "https://harden.dev/test@v1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		content sign.Content
	}{
		{"dsse-in-toto", &sign.DSSEData{Data: statement, PayloadType: inTotoType}},
		{"message", &sign.PlainData{Data: artifact}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kp, err := sign.NewEphemeralKeypair(nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			pb, err := sign.Bundle(tc.content, kp, bundleOptions(t, s, s.Issuer.Token(t, signerEmail)))
			if err != nil {
				t.Fatalf("sign: %v", err)
			}
			t.Logf("signing took %s", time.Since(start).Round(time.Millisecond))

			checkBundleShape(t, s, pb)

			res, err := verifyBundle(t, s, pb, artifact, s.Issuer.URL(), signerEmail)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got := res.Signature.Certificate.SubjectAlternativeName; got != signerEmail {
				t.Errorf("verified SAN = %q, want %q", got, signerEmail)
			}
			if got := res.Signature.Certificate.Issuer; got != s.Issuer.URL() {
				t.Errorf("verified issuer = %q, want %q", got, s.Issuer.URL())
			}
			if !slices.ContainsFunc(res.VerifiedTimestamps, func(ts verify.TimestampVerificationResult) bool {
				return ts.Type == "TimestampAuthority" && time.Since(ts.Timestamp) < time.Hour
			}) {
				t.Errorf("no recent TSA timestamp among verified timestamps %+v", res.VerifiedTimestamps)
			}
			if _, isDSSE := tc.content.(*sign.DSSEData); isDSSE && res.Statement == nil {
				t.Error("verified DSSE bundle has no in-toto statement in the result")
			}

			// The same bundle must not verify for anyone else.
			const wrongSAN = "mallory@example.com"
			_, err = verifyBundle(t, s, pb, artifact, s.Issuer.URL(), wrongSAN)
			wantIdentityError(t, "wrong SAN", err, wrongSAN)

			wrongIssuer := NewIssuer(t).URL()
			_, err = verifyBundle(t, s, pb, artifact, wrongIssuer, signerEmail)
			wantIdentityError(t, "wrong issuer", err, wrongIssuer)

			if _, err := verifyBundle(t, s, pb, []byte("some other artifact\n"), s.Issuer.URL(), signerEmail); err == nil {
				t.Error("verification passed for a different artifact")
			}
		})
	}
}

func wantIdentityError(t *testing.T, what string, err error, wantInMessage string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: verification passed, want failure", what)
		return
	}
	var noMatch *verify.ErrNoMatchingCertificateIdentity
	if !errors.As(err, &noMatch) || !strings.Contains(err.Error(), wantInMessage) {
		t.Errorf("%s: err = %v, want a certificate identity mismatch naming %q", what, err, wantInMessage)
	}
}

// checkBundleShape asserts the parts a Rekor v2 + TSA keyless bundle has.
func checkBundleShape(t *testing.T, s *Stack, pb *protobundle.Bundle) {
	t.Helper()
	if pb.GetMediaType() != bundleMediaType {
		t.Errorf("media type = %q, want %q", pb.GetMediaType(), bundleMediaType)
	}
	vm := pb.GetVerificationMaterial()

	// v0.3 bundles carry the leaf alone, never a chain.
	if vm.GetX509CertificateChain() != nil {
		t.Error("bundle carries a certificate chain, want a single leaf")
	}
	certPB := vm.GetCertificate()
	if certPB == nil {
		t.Fatal("bundle has no certificate")
	}
	cert, err := x509.ParseCertificate(certPB.GetRawBytes())
	if err != nil {
		t.Fatalf("parse leaf: %v", err)
	}
	if cert.IsCA {
		t.Error("bundle certificate is a CA, want a leaf")
	}
	if !slices.Equal(cert.EmailAddresses, []string{signerEmail}) {
		t.Errorf("leaf email SANs = %v, want [%s]", cert.EmailAddresses, signerEmail)
	}
	ca, ok := s.TrustedRoot.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	if !ok {
		t.Fatalf("unexpected CA type %T", s.TrustedRoot.FulcioCertificateAuthorities()[0])
	}
	if err := cert.CheckSignatureFrom(ca.Root); err != nil {
		t.Errorf("leaf not issued by the trusted Fulcio root: %v", err)
	}

	if ts := vm.GetTimestampVerificationData().GetRfc3161Timestamps(); len(ts) != 1 || len(ts[0].GetSignedTimestamp()) == 0 {
		t.Errorf("want one RFC 3161 timestamp, got %d", len(ts))
	}

	entries := vm.GetTlogEntries()
	if len(entries) != 1 {
		t.Fatalf("want one tlog entry, got %d", len(entries))
	}
	e := entries[0]
	if kv := e.GetKindVersion(); kv.GetKind() != "hashedrekord" || kv.GetVersion() != "0.0.2" {
		t.Errorf("entry kind/version = %s/%s, want hashedrekord/0.0.2", kv.GetKind(), kv.GetVersion())
	}
	if _, ok := s.TrustedRoot.RekorLogs()[hex.EncodeToString(e.GetLogId().GetKeyId())]; !ok {
		t.Errorf("entry log ID %x is not a log in the trusted root", e.GetLogId().GetKeyId())
	}
	if e.GetIntegratedTime() != 0 || e.GetInclusionPromise() != nil {
		t.Error("Rekor v2 entry has an integrated time or promise; v2 logs issue neither")
	}
	proof := e.GetInclusionProof()
	if proof == nil {
		t.Fatal("entry has no inclusion proof")
	}
	if proof.GetTreeSize() <= proof.GetLogIndex() || len(proof.GetRootHash()) != sha256.Size {
		t.Errorf("implausible inclusion proof: index %d, tree size %d, root hash %x",
			proof.GetLogIndex(), proof.GetTreeSize(), proof.GetRootHash())
	}
	checkpoint := proof.GetCheckpoint().GetEnvelope()
	if !strings.HasPrefix(checkpoint, rekorHost+"\n") || !strings.Contains(checkpoint, "\n\n— "+rekorHost+" ") {
		t.Errorf("checkpoint does not come from origin %s:\n%s", rekorHost, checkpoint)
	}
}

func TestFulcioRejectsUntrustedIssuer(t *testing.T) {
	t.Parallel()
	s := startTimed(t)
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	fulcio := sign.NewFulcio(&sign.FulcioOptions{BaseURL: s.FulcioURL})
	getCert := func(token string) ([]byte, error) {
		return fulcio.GetCertificate(t.Context(), kp, &sign.CertificateProviderOptions{IDToken: token})
	}

	// Control: the trusted issuer's token works with the same client.
	der, err := getCert(s.Issuer.Token(t, signerEmail))
	if err != nil {
		t.Fatalf("trusted issuer's token rejected: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cert.EmailAddresses, []string{signerEmail}) {
		t.Fatalf("certificate email SANs = %v, want [%s]", cert.EmailAddresses, signerEmail)
	}

	rogue := NewIssuer(t)
	tests := []struct {
		name  string
		token string
	}{
		{"issuer not in config", rogue.Token(t, signerEmail)},
		// Claims the trusted issuer but is signed with another key.
		{"forged issuer claim", rogue.tokenAs(t, s.Issuer.URL(), signerEmail)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := getCert(tc.token)
			if err == nil {
				t.Fatal("Fulcio issued a certificate")
			}
			// Fulcio answers InvalidArgument ("There was an error processing
			// the identity token") as HTTP 400.
			for _, want := range []string{"Fulcio returned 400", "identity token"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestTrustedRootAndSigningConfigRoundTrip(t *testing.T) {
	t.Parallel()
	s := startTimed(t)

	// Trusted root: file → sigstore-go → JSON gives back the same message.
	trJSON, err := os.ReadFile(s.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(s.TrustedRootPath)
	if err != nil {
		t.Fatalf("NewTrustedRootFromPath: %v", err)
	}
	again, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var fromFile, fromParsed prototrustroot.TrustedRoot
	mustUnmarshal(t, trJSON, &fromFile)
	mustUnmarshal(t, again, &fromParsed)
	if !proto.Equal(&fromFile, &fromParsed) {
		t.Errorf("trusted root changed in a round trip:\nfile:   %s\nparsed: %s", trJSON, again)
	}

	if fromFile.GetMediaType() != root.TrustedRootMediaType01 {
		t.Errorf("trusted root media type = %q", fromFile.GetMediaType())
	}
	if n := len(fromFile.GetCtlogs()); n != 0 {
		t.Errorf("trusted root has %d CT logs, want none", n)
	}
	notAfter := time.Now().Add(-time.Hour)
	if cas := fromFile.GetCertificateAuthorities(); len(cas) != 1 || cas[0].GetUri() != s.FulcioURL ||
		!cas[0].GetValidFor().GetStart().AsTime().Before(notAfter) {
		t.Errorf("want one Fulcio CA at %s valid from well before now, got %v", s.FulcioURL, cas)
	}
	if tsas := fromFile.GetTimestampAuthorities(); len(tsas) != 1 || tsas[0].GetUri() != s.TSAURL ||
		len(tsas[0].GetCertChain().GetCertificates()) < 2 || !tsas[0].GetValidFor().GetStart().AsTime().Before(notAfter) {
		t.Errorf("want one TSA at %s with a leaf..root chain valid from well before now, got %v", s.TSAURL, tsas)
	}
	tlogs := fromFile.GetTlogs()
	if len(tlogs) != 1 {
		t.Fatalf("trusted root has %d tlogs, want 1", len(tlogs))
	}
	tl := tlogs[0]
	if tl.GetBaseUrl() != s.RekorURL {
		t.Errorf("tlog baseUrl = %q, want %q", tl.GetBaseUrl(), s.RekorURL)
	}
	if u, err := url.Parse(tl.GetBaseUrl()); err != nil || u.Hostname() != rekorHost {
		t.Errorf("tlog baseUrl host must be the checkpoint origin %s: %q (%v)", rekorHost, tl.GetBaseUrl(), err)
	}
	// For an ECDSA log key the Rekor v2 log ID is SHA-256 of the PKIX key.
	if want := sha256.Sum256(tl.GetPublicKey().GetRawBytes()); !bytes.Equal(tl.GetLogId().GetKeyId(), want[:]) {
		t.Errorf("tlog log ID = %x, want sha256(public key) = %x", tl.GetLogId().GetKeyId(), want)
	}
	if !tl.GetPublicKey().GetValidFor().GetStart().AsTime().Before(notAfter) {
		t.Error("tlog key validity does not start well in the past")
	}

	// Signing config: file → sigstore-go → JSON is stable, and service
	// selection finds each service at the version sigstore-go speaks.
	scJSON, err := os.ReadFile(s.SigningConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := root.NewSigningConfigFromPath(s.SigningConfigPath)
	if err != nil {
		t.Fatalf("NewSigningConfigFromPath: %v", err)
	}
	scAgain, err := sc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var scFile, scParsed prototrustroot.SigningConfig
	mustUnmarshal(t, scJSON, &scFile)
	mustUnmarshal(t, scAgain, &scParsed)
	if !proto.Equal(&scFile, &scParsed) {
		t.Errorf("signing config changed in a round trip:\nfile:   %s\nparsed: %s", scJSON, scAgain)
	}
	if scFile.GetMediaType() != root.SigningConfigMediaType02 {
		t.Errorf("signing config media type = %q", scFile.GetMediaType())
	}

	now := time.Now()
	for _, c := range []struct {
		name     string
		services []root.Service
		versions []uint32
		url      string
		major    uint32
	}{
		{"Fulcio", sc.FulcioCertificateAuthorityURLs(), sign.FulcioAPIVersions, s.FulcioURL, 1},
		{"OIDC", sc.OIDCProviderURLs(), []uint32{1}, s.Issuer.URL(), 1},
		{"Rekor", sc.RekorLogURLs(), sign.RekorAPIVersions, s.RekorURL, 2},
		{"TSA", sc.TimestampAuthorityURLs(), sign.TimestampAuthorityAPIVersions, s.TSAURL + TimestampPath, 1},
	} {
		svc, err := root.SelectService(c.services, c.versions, now)
		if err != nil {
			t.Errorf("select %s: %v", c.name, err)
			continue
		}
		if svc.URL != c.url || svc.MajorAPIVersion != c.major {
			t.Errorf("%s service = %s v%d, want %s v%d", c.name, svc.URL, svc.MajorAPIVersion, c.url, c.major)
		}
	}

	// The Stack hands out exactly what the files say.
	stackTR, err := s.TrustedRoot.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var fromStack prototrustroot.TrustedRoot
	mustUnmarshal(t, stackTR, &fromStack)
	if !proto.Equal(&fromFile, &fromStack) {
		t.Error("Stack.TrustedRoot differs from the trusted root file")
	}
	if s.SigningConfig.String() != sc.String() {
		t.Errorf("Stack.SigningConfig = %s, file says %s", s.SigningConfig, sc)
	}
}

func mustUnmarshal(t *testing.T, b []byte, m proto.Message) {
	t.Helper()
	if err := protojson.Unmarshal(b, m); err != nil {
		t.Fatalf("protojson: %v\n%s", err, b)
	}
}
