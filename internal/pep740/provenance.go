// Package pep740 parses and verifies the PEP 740 provenance objects an
// index such as PyPI serves for a distribution file: Sigstore-signed
// in-toto statements bound to the project's Trusted Publisher.
//
// The provenance object is untrusted until Verify has checked each
// attestation against a trusted root, the file's name and sha256, and the
// publisher the object names. docs/upstream.md describes what is checked.
package pep740

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/harden-dev/harden/internal/errs"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Bounds on what Parse accepts. A provenance object of a real release is a
// few kilobytes per attestation; the bounds leave room for growth and cap
// the memory a hostile index can make a client spend.
const (
	// MaxProvenanceSize is the largest provenance object Parse reads (4 MiB).
	MaxProvenanceSize = 4 << 20
	// MaxBundles caps attestation_bundles.
	MaxBundles = 16
	// MaxAttestations caps the attestations of one bundle.
	MaxAttestations = 16
	// MaxTransparencyEntries caps transparency_entries of one attestation.
	MaxTransparencyEntries = 8
	// MaxTimestamps caps the RFC 3161 timestamps of one attestation.
	MaxTimestamps = 8
)

// Predicate types PEP 740 allows, and the DSSE payload type it requires.
const (
	PublishPredicateType = "https://docs.pypi.org/attestations/publish/v1"
	SLSAPredicateType    = "https://slsa.dev/provenance/v1"
	InTotoPayloadType    = "application/vnd.in-toto+json"
	inTotoStatementType  = "https://in-toto.io/Statement/v1"
)

// Publisher kinds with a known certificate identity.
const (
	KindGitHub = "GitHub"
	KindGitLab = "GitLab"
	KindGoogle = "Google"
)

// ErrMalformed marks a provenance object that does not have the PEP 740 shape.
var ErrMalformed = errors.New("malformed PEP 740 provenance")

// Provenance is a parsed provenance object (version 1).
type Provenance struct {
	Bundles []AttestationBundle
}

// AttestationBundle groups the attestations signed by one publisher.
type AttestationBundle struct {
	Publisher    Publisher
	Attestations []Attestation
}

// Publisher is a Trusted Publisher as the index names it.
type Publisher struct {
	Kind string `json:"kind"` // KindGitHub, KindGitLab, KindGoogle, or another kind the index names
	// Repository is "owner/name" (GitHub) or "group/…/project" (GitLab).
	Repository string `json:"repository,omitempty"`
	// Workflow is the workflow file name (GitHub, "release.yml") or the
	// CI configuration path (GitLab's workflow_filepath, ".gitlab-ci.yml").
	Workflow string `json:"workflow,omitempty"`
	// Environment is the deployment environment the index recorded at
	// upload. Fulcio certificates do not carry it: it is the index's word.
	Environment string `json:"environment,omitempty"`
	// Email is the Google service account.
	Email string `json:"email,omitempty"`
}

// String names the publisher for messages: "GitHub owner/repo release.yml
// (environment pypi)".
func (p Publisher) String() string {
	var s string
	switch p.Kind {
	case KindGitHub, KindGitLab:
		s = fmt.Sprintf("%s %s %s", p.Kind, p.Repository, p.Workflow)
	case KindGoogle:
		s = fmt.Sprintf("%s %s", p.Kind, p.Email)
	default:
		s = fmt.Sprintf("%q", p.Kind)
	}
	if p.Environment != "" {
		s += " (environment " + p.Environment + ")"
	}
	return s
}

// Attestation is one attestation object, decoded.
type Attestation struct {
	Certificate         []byte // DER
	TransparencyEntries []*protorekor.TransparencyLogEntry
	Timestamps          [][]byte // RFC 3161 timestamp responses
	Statement           []byte   // the signed in-toto statement, as signed
	Signature           []byte
}

// Wire shapes. Pointers tell a missing or null key from an empty one.
type wireProvenance struct {
	Version            json.RawMessage `json:"version"`
	AttestationBundles json.RawMessage `json:"attestation_bundles"`
}

type wireBundle struct {
	Publisher    *wirePublisher  `json:"publisher"`
	Attestations json.RawMessage `json:"attestations"`
}

type wirePublisher struct {
	Kind             *string `json:"kind"`
	Repository       *string `json:"repository"`
	Workflow         *string `json:"workflow"`
	WorkflowFilepath *string `json:"workflow_filepath"`
	Environment      *string `json:"environment"`
	Email            *string `json:"email"`
}

type wireAttestation struct {
	Version              json.RawMessage `json:"version"`
	VerificationMaterial *struct {
		Certificate         *string         `json:"certificate"`
		TransparencyEntries json.RawMessage `json:"transparency_entries"`
		Timestamps          json.RawMessage `json:"timestamps"`
	} `json:"verification_material"`
	Envelope *struct {
		Statement *string `json:"statement"`
		Signature *string `json:"signature"`
	} `json:"envelope"`
}

// Parse reads one provenance object of at most MaxProvenanceSize bytes.
// Errors wrap ErrMalformed and are classified errs.Check: the object comes
// from the index and failed to be what PEP 740 says it is.
func Parse(r io.Reader) (*Provenance, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxProvenanceSize+1))
	if err != nil {
		return nil, fmt.Errorf("read PEP 740 provenance: %w", err)
	}
	return ParseBytes(data)
}

// ParseBytes is Parse for bytes in memory.
func ParseBytes(data []byte) (*Provenance, error) {
	p, err := parse(data)
	if err != nil {
		return nil, errs.Check(err)
	}
	return p, nil
}

func malformed(path, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, path, fmt.Sprintf(format, a...))
}

func parse(data []byte) (*Provenance, error) {
	if len(data) > MaxProvenanceSize {
		return nil, malformed("provenance", "larger than %d bytes", MaxProvenanceSize)
	}
	var w wireProvenance
	if err := unmarshalObject(data, &w); err != nil {
		return nil, malformed("provenance", "%v", err)
	}
	if err := checkVersion("provenance", w.Version); err != nil {
		return nil, err
	}
	p := &Provenance{}
	err := decodeArray(w.AttestationBundles, "attestation_bundles", MaxBundles, func(i int, raw json.RawMessage) error {
		b, err := parseBundle(fmt.Sprintf("attestation_bundles[%d]", i), raw)
		if err == nil {
			p.Bundles = append(p.Bundles, b)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parseBundle(path string, raw json.RawMessage) (AttestationBundle, error) {
	var w wireBundle
	if err := unmarshalObject(raw, &w); err != nil {
		return AttestationBundle{}, malformed(path, "%v", err)
	}
	if w.Publisher == nil {
		return AttestationBundle{}, malformed(path+".publisher", "missing")
	}
	pub, err := parsePublisher(path+".publisher", w.Publisher)
	if err != nil {
		return AttestationBundle{}, err
	}
	b := AttestationBundle{Publisher: pub}
	err = decodeArray(w.Attestations, path+".attestations", MaxAttestations, func(i int, raw json.RawMessage) error {
		a, err := parseAttestation(fmt.Sprintf("%s.attestations[%d]", path, i), raw)
		if err == nil {
			b.Attestations = append(b.Attestations, a)
		}
		return err
	})
	return b, err
}

func parsePublisher(path string, w *wirePublisher) (Publisher, error) {
	need := func(field string, v *string) (string, error) {
		if v == nil || *v == "" {
			return "", malformed(path+"."+field, "missing or empty")
		}
		return *v, nil
	}
	var p Publisher
	var err error
	if p.Kind, err = need("kind", w.Kind); err != nil {
		return p, err
	}
	if w.Environment != nil {
		p.Environment = *w.Environment
	}
	switch p.Kind {
	case KindGitHub:
		if p.Repository, err = need("repository", w.Repository); err != nil {
			return p, err
		}
		p.Workflow, err = need("workflow", w.Workflow)
	case KindGitLab:
		if p.Repository, err = need("repository", w.Repository); err != nil {
			return p, err
		}
		p.Workflow, err = need("workflow_filepath", w.WorkflowFilepath)
	case KindGoogle:
		p.Email, err = need("email", w.Email)
	}
	// Other kinds parse (the publisher object is open-ended); Verify
	// rejects them, as it cannot tie them to a certificate identity.
	return p, err
}

func parseAttestation(path string, raw json.RawMessage) (Attestation, error) {
	var w wireAttestation
	if err := unmarshalObject(raw, &w); err != nil {
		return Attestation{}, malformed(path, "%v", err)
	}
	if err := checkVersion(path, w.Version); err != nil {
		return Attestation{}, err
	}
	vm, env := w.VerificationMaterial, w.Envelope
	if vm == nil {
		return Attestation{}, malformed(path+".verification_material", "missing")
	}
	if env == nil {
		return Attestation{}, malformed(path+".envelope", "missing")
	}
	var a Attestation
	var err error
	if a.Certificate, err = decodeB64(path+".verification_material.certificate", vm.Certificate); err != nil {
		return a, err
	}
	if _, err := x509.ParseCertificate(a.Certificate); err != nil {
		return a, malformed(path+".verification_material.certificate", "not an X.509 certificate: %v", err)
	}
	tpath := path + ".verification_material.transparency_entries"
	err = decodeArray(vm.TransparencyEntries, tpath, MaxTransparencyEntries, func(i int, raw json.RawMessage) error {
		var e protorekor.TransparencyLogEntry
		if err := protojson.Unmarshal(raw, &e); err != nil {
			return malformed(fmt.Sprintf("%s[%d]", tpath, i), "not a transparency log entry: %v", err)
		}
		a.TransparencyEntries = append(a.TransparencyEntries, &e)
		return nil
	})
	if err != nil {
		return a, err
	}
	if len(vm.Timestamps) > 0 && !bytes.Equal(vm.Timestamps, []byte("null")) {
		spath := path + ".verification_material.timestamps"
		err = decodeArray(vm.Timestamps, spath, MaxTimestamps, func(i int, raw json.RawMessage) error {
			var s *string
			if err := json.Unmarshal(raw, &s); err != nil {
				return malformed(fmt.Sprintf("%s[%d]", spath, i), "not a string")
			}
			ts, err := decodeB64(fmt.Sprintf("%s[%d]", spath, i), s)
			a.Timestamps = append(a.Timestamps, ts)
			return err
		})
		if err != nil {
			return a, err
		}
	}
	if a.Statement, err = decodeB64(path+".envelope.statement", env.Statement); err != nil {
		return a, err
	}
	a.Signature, err = decodeB64(path+".envelope.signature", env.Signature)
	return a, err
}

// unmarshalObject decodes a JSON object into v; null, arrays and scalars
// are refused so a missing object is never mistaken for an empty one.
func unmarshalObject(data []byte, v any) error {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(data, v)
}

// checkVersion accepts exactly the JSON number 1.
func checkVersion(path string, raw json.RawMessage) error {
	switch v := string(raw); v {
	case "1":
		return nil
	case "", "null":
		return malformed(path+".version", "missing")
	default:
		return malformed(path+".version", "version %s is not supported (only 1)", v)
	}
}

// decodeArray walks a JSON array element by element, refusing a missing or
// empty array and stopping before element max+1 is decoded.
func decodeArray(raw json.RawMessage, path string, max int, each func(int, json.RawMessage) error) error {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return malformed(path, "missing")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return malformed(path, "not a JSON array")
	}
	n := 0
	for dec.More() {
		if n == max {
			return malformed(path, "more than %d entries", max)
		}
		var el json.RawMessage
		if err := dec.Decode(&el); err != nil {
			return malformed(fmt.Sprintf("%s[%d]", path, n), "%v", err)
		}
		if err := each(n, el); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return malformed(path, "empty")
	}
	return nil
}

// decodeB64 decodes standard, padded base64. Line breaks are allowed, as
// PyPI's documentation shows them wrapped.
func decodeB64(path string, s *string) ([]byte, error) {
	if s == nil || *s == "" {
		return nil, malformed(path, "missing or empty")
	}
	clean := strings.NewReplacer("\n", "", "\r", "").Replace(*s)
	b, err := base64.StdEncoding.Strict().DecodeString(clean)
	if err != nil {
		return nil, malformed(path, "bad base64: %v", err)
	}
	if len(b) == 0 {
		return nil, malformed(path, "empty")
	}
	return b, nil
}
