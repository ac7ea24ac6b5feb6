package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/harden-dev/harden/internal/errs"
)

// statementTypeV01 is the legacy statement type, still produced by some
// tools; its JSON layout is the same as v1.
const statementTypeV01 = "https://in-toto.io/Statement/v0.1"

// Marshal serialises st as indented JSON ending in a newline. protojson
// varies its whitespace on purpose, so the output is re-indented with
// encoding/json: the same statement always gives the same bytes.
func Marshal(st *intoto.Statement) ([]byte, error) {
	if st == nil {
		return nil, errors.New("marshal provenance: no statement")
	}
	raw, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("marshal provenance: %w", err)
	}
	out, err := normalizeJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("marshal provenance: normalise JSON: %w", err)
	}
	return out, nil
}

// normalizeJSON re-indents JSON with two spaces and a final newline,
// whatever whitespace the input had.
func normalizeJSON(raw []byte) ([]byte, error) {
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Parse reads an in-toto statement (v1 or v0.1) carrying a SLSA v1
// provenance predicate. Unknown fields are ignored, as the in-toto and
// SLSA specifications ask of consumers.
func Parse(b []byte) (*intoto.Statement, *slsa.Provenance, error) {
	lenient := protojson.UnmarshalOptions{DiscardUnknown: true}
	st := &intoto.Statement{}
	if err := lenient.Unmarshal(b, st); err != nil {
		return nil, nil, errs.Input(fmt.Errorf("parse provenance: not an in-toto statement: %w", err))
	}
	switch st.GetType() {
	case intoto.StatementTypeUri, statementTypeV01:
	case "":
		return nil, nil, errs.Input(errors.New("parse provenance: no _type: not an in-toto statement (decode a DSSE envelope's payload first)"))
	default:
		return nil, nil, errs.Input(fmt.Errorf("parse provenance: statement _type %q is not %s or %s", st.GetType(), intoto.StatementTypeUri, statementTypeV01))
	}
	if st.GetPredicateType() != PredicateType {
		return nil, nil, errs.Input(fmt.Errorf("parse provenance: predicateType is %q, want %s; pass the SLSA provenance attestation, not another one", st.GetPredicateType(), PredicateType))
	}
	if err := st.Validate(); err != nil {
		return nil, nil, errs.Input(fmt.Errorf("parse provenance: invalid in-toto statement: %w", err))
	}
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, nil, fmt.Errorf("parse provenance: re-encode predicate: %w", err)
	}
	prov := &slsa.Provenance{}
	if err := lenient.Unmarshal(raw, prov); err != nil {
		return nil, nil, errs.Input(fmt.Errorf("parse provenance: predicate is not SLSA v1 provenance: %w", err))
	}
	if err := prov.Validate(); err != nil {
		return nil, nil, errs.Input(fmt.Errorf("parse provenance: invalid SLSA v1 provenance: %w", err))
	}
	return st, prov, nil
}

// CheckSubject returns nil if digest ("sha256:<hex>") is one of the
// statement's subjects, and otherwise an error naming both the digest and
// the subjects the statement is about.
func CheckSubject(st *intoto.Statement, digest string) error {
	alg, want, ok := strings.Cut(digest, ":")
	if !ok || alg == "" || want == "" {
		return errs.Input(fmt.Errorf("check provenance subject: %q is not a digest; use algorithm:hex such as sha256:…", digest))
	}
	want = strings.ToLower(want)
	var have []string
	for _, s := range st.GetSubject() {
		ds := s.GetDigest()
		if strings.ToLower(ds[alg]) == want {
			return nil
		}
		for _, a := range slices.Sorted(maps.Keys(ds)) {
			have = append(have, s.GetName()+"@"+a+":"+ds[a])
		}
	}
	if len(have) == 0 {
		return errs.Check(fmt.Errorf("check provenance subject: the statement has no subjects, so it does not cover %s", digest))
	}
	return errs.Check(fmt.Errorf("check provenance subject: the statement covers %s, not %s; use the provenance of this image, or verify the image it names",
		strings.Join(have, ", "), digest))
}
