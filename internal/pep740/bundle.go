package pep740

import (
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"google.golang.org/protobuf/proto"
)

// bundleMediaType is the Sigstore bundle version an attestation maps to:
// v0.3 carries the leaf certificate alone, as an attestation object does.
const bundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Bundle converts the attestation into a Sigstore bundle: its certificate,
// its transparency log entries and RFC 3161 timestamps, and a DSSE
// envelope of the statement with payload type application/vnd.in-toto+json
// (the only one PEP 740 permits) and its one signature.
func (a *Attestation) Bundle() (*bundle.Bundle, error) {
	entries := make([]*protorekor.TransparencyLogEntry, len(a.TransparencyEntries))
	for i, e := range a.TransparencyEntries {
		entries[i] = proto.Clone(e).(*protorekor.TransparencyLogEntry)
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{
			Certificate: &protocommon.X509Certificate{RawBytes: a.Certificate},
		},
		TlogEntries: entries,
	}
	if len(a.Timestamps) > 0 {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{}
		for _, ts := range a.Timestamps {
			vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps,
				&protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
		}
	}
	pb := &protobundle.Bundle{
		MediaType:            bundleMediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     a.Statement,
			PayloadType: InTotoPayloadType,
			Signatures:  []*protodsse.Signature{{Sig: a.Signature}},
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: attestation is not a valid Sigstore bundle: %v", ErrMalformed, err)
	}
	return b, nil
}
