package pep740

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
)

func TestParseRealProvenance(t *testing.T) {
	p, err := Parse(bytes.NewReader(readTestdata(t, ghFile+".provenance")))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Bundles) != 1 || len(p.Bundles[0].Attestations) != 1 {
		t.Fatalf("got %d bundles", len(p.Bundles))
	}
	if p.Bundles[0].Publisher != ghPublisher {
		t.Errorf("publisher %+v", p.Bundles[0].Publisher)
	}
	a := p.Bundles[0].Attestations[0]
	if len(a.Certificate) != 1794 || len(a.Signature) != 72 || len(a.Timestamps) != 0 {
		t.Errorf("certificate %d bytes, signature %d bytes, %d timestamps", len(a.Certificate), len(a.Signature), len(a.Timestamps))
	}
	if !bytes.HasPrefix(a.Statement, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"pypi_attestations-0.0.19.tar.gz"`)) {
		t.Errorf("statement %s", a.Statement)
	}
	if len(a.TransparencyEntries) != 1 || a.TransparencyEntries[0].GetLogIndex() != 153454663 ||
		a.TransparencyEntries[0].GetIntegratedTime() != 1733354041 || len(a.TransparencyEntries[0].GetInclusionProof().GetHashes()) != 13 {
		t.Errorf("transparency entries %v", a.TransparencyEntries)
	}
}

// provWith returns the real provenance with f applied to its JSON.
func provWith(t *testing.T, f func(m map[string]any)) []byte {
	return mutate(t, readTestdata(t, ghFile+".provenance"), f)
}

func TestParseAccepts(t *testing.T) {
	cases := map[string][]byte{
		"wrapped base64": provWith(t, func(m map[string]any) {
			vm := attOf(m, 0, 0)["verification_material"].(map[string]any)
			c := vm["certificate"].(string)
			vm["certificate"] = c[:76] + "\n" + c[76:152] + "\r\n" + c[152:] + "\n"
		}),
		"extra keys": provWith(t, func(m map[string]any) {
			m["note"] = "x"
			bundleOf(m, 0)["publisher"].(map[string]any)["claims"] = map[string]any{"sha": "abc"}
			attOf(m, 0, 0)["extra"] = []any{1}
		}),
		"null timestamps": provWith(t, func(m map[string]any) {
			attOf(m, 0, 0)["verification_material"].(map[string]any)["timestamps"] = nil
		}),
		"environment": provWith(t, func(m map[string]any) {
			bundleOf(m, 0)["publisher"].(map[string]any)["environment"] = "pypi"
		}),
		"other publisher kind": provWith(t, func(m map[string]any) {
			bundleOf(m, 0)["publisher"] = map[string]any{"kind": "ActiveState", "organization": "x"}
		}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := ParseBytes(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Bundles[0].Attestations[0].Certificate) != 1794 {
				t.Errorf("certificate %d bytes", len(p.Bundles[0].Attestations[0].Certificate))
			}
			switch name {
			case "environment":
				if p.Bundles[0].Publisher.Environment != "pypi" {
					t.Errorf("environment %q", p.Bundles[0].Publisher.Environment)
				}
			case "other publisher kind":
				if p.Bundles[0].Publisher != (Publisher{Kind: "ActiveState"}) {
					t.Errorf("publisher %+v", p.Bundles[0].Publisher)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	att := func(f func(a map[string]any)) []byte {
		return provWith(t, func(m map[string]any) { f(attOf(m, 0, 0)) })
	}
	vm := func(f func(v map[string]any)) []byte {
		return att(func(a map[string]any) { f(a["verification_material"].(map[string]any)) })
	}
	pub := func(p map[string]any) []byte {
		return provWith(t, func(m map[string]any) { bundleOf(m, 0)["publisher"] = p })
	}
	manyBundles := provWith(t, func(m map[string]any) {
		b := bundleOf(m, 0)
		var list []any
		for range MaxBundles + 1 {
			list = append(list, b)
		}
		m["attestation_bundles"] = list
	})
	manyEntries := vm(func(v map[string]any) {
		e := v["transparency_entries"].([]any)[0]
		var list []any
		for range MaxTransparencyEntries + 1 {
			list = append(list, e)
		}
		v["transparency_entries"] = list
	})
	huge := append(readTestdata(t, ghFile+".provenance"), bytes.Repeat([]byte(" "), MaxProvenanceSize)...)
	cases := []struct {
		name, message string
		data          []byte
	}{
		{"not JSON", "provenance: not a JSON object", []byte("<html>")},
		{"array", "provenance: not a JSON object", []byte(`[{"version":1}]`)},
		{"trailing data", "invalid character", append(readTestdata(t, ghFile+".provenance"), []byte("{}")...)},
		{"version 2", "provenance.version: version 2 is not supported (only 1)", provWith(t, func(m map[string]any) { m["version"] = 2 })},
		{"version string", `provenance.version: version "1" is not supported`, provWith(t, func(m map[string]any) { m["version"] = "1" })},
		{"no version", "provenance.version: missing", provWith(t, func(m map[string]any) { delete(m, "version") })},
		{"no bundles", "attestation_bundles: missing", provWith(t, func(m map[string]any) { delete(m, "attestation_bundles") })},
		{"empty bundles", "attestation_bundles: empty", provWith(t, func(m map[string]any) { m["attestation_bundles"] = []any{} })},
		{"bundles object", "attestation_bundles: not a JSON array", provWith(t, func(m map[string]any) { m["attestation_bundles"] = map[string]any{} })},
		{"too many bundles", fmt.Sprintf("attestation_bundles: more than %d entries", MaxBundles), manyBundles},
		{"no publisher", "attestation_bundles[0].publisher: missing", provWith(t, func(m map[string]any) { delete(bundleOf(m, 0), "publisher") })},
		{"no kind", "publisher.kind: missing or empty", pub(map[string]any{"repository": "a/b"})},
		{"kind not a string", "attestation_bundles[0]: json: cannot unmarshal number", pub(map[string]any{"kind": 1})},
		{"GitHub without workflow", "publisher.workflow: missing or empty", pub(map[string]any{"kind": "GitHub", "repository": "a/b"})},
		{"GitHub without repository", "publisher.repository: missing or empty", pub(map[string]any{"kind": "GitHub", "workflow": "r.yml"})},
		{"GitLab without workflow_filepath", "publisher.workflow_filepath: missing or empty", pub(map[string]any{"kind": "GitLab", "repository": "a/b", "workflow": "x"})},
		{"Google without email", "publisher.email: missing or empty", pub(map[string]any{"kind": "Google"})},
		{"no attestations", "attestation_bundles[0].attestations: missing", provWith(t, func(m map[string]any) { delete(bundleOf(m, 0), "attestations") })},
		{"empty attestations", "attestation_bundles[0].attestations: empty", provWith(t, func(m map[string]any) { bundleOf(m, 0)["attestations"] = []any{} })},
		{"attestation version 2", "attestations[0].version: version 2 is not supported", att(func(a map[string]any) { a["version"] = 2 })},
		{"attestation null", "attestations[0]: not a JSON object", provWith(t, func(m map[string]any) { bundleOf(m, 0)["attestations"] = []any{nil} })},
		{"no verification material", "attestations[0].verification_material: missing", att(func(a map[string]any) { delete(a, "verification_material") })},
		{"no envelope", "attestations[0].envelope: missing", att(func(a map[string]any) { delete(a, "envelope") })},
		{"no certificate", "verification_material.certificate: missing or empty", vm(func(v map[string]any) { delete(v, "certificate") })},
		{"certificate bad base64", "verification_material.certificate: bad base64", vm(func(v map[string]any) { v["certificate"] = "MIIG*" })},
		{"certificate url-safe base64", "verification_material.certificate: bad base64", vm(func(v map[string]any) {
			v["certificate"] = strings.NewReplacer("+", "-", "/", "_").Replace(v["certificate"].(string))
		})},
		{"certificate not X.509", "verification_material.certificate: not an X.509 certificate", vm(func(v map[string]any) { v["certificate"] = "aGVsbG8=" })},
		{"no transparency entries", "transparency_entries: missing", vm(func(v map[string]any) { delete(v, "transparency_entries") })},
		{"empty transparency entries", "transparency_entries: empty", vm(func(v map[string]any) { v["transparency_entries"] = []any{} })},
		{"too many transparency entries", fmt.Sprintf("transparency_entries: more than %d entries", MaxTransparencyEntries), manyEntries},
		{"transparency entry unknown field", "transparency_entries[0]: not a transparency log entry", vm(func(v map[string]any) {
			v["transparency_entries"].([]any)[0].(map[string]any)["bogus"] = 1
		})},
		{"transparency entry bad index", "transparency_entries[0]: not a transparency log entry", vm(func(v map[string]any) {
			v["transparency_entries"].([]any)[0].(map[string]any)["logIndex"] = "x"
		})},
		{"timestamps not a list", "verification_material.timestamps: not a JSON array", vm(func(v map[string]any) { v["timestamps"] = "MII=" })},
		{"timestamp not a string", "verification_material.timestamps[0]: not a string", vm(func(v map[string]any) { v["timestamps"] = []any{3} })},
		{"timestamp bad base64", "verification_material.timestamps[0]: bad base64", vm(func(v map[string]any) { v["timestamps"] = []any{"%%%"} })},
		{"no statement", "envelope.statement: missing or empty", att(func(a map[string]any) { delete(a["envelope"].(map[string]any), "statement") })},
		{"empty signature", "envelope.signature: missing or empty", att(func(a map[string]any) { a["envelope"].(map[string]any)["signature"] = "" })},
		{"signature missing padding", "envelope.signature: bad base64", att(func(a map[string]any) {
			a["envelope"].(map[string]any)["signature"] = strings.TrimRight(a["envelope"].(map[string]any)["signature"].(string)+"A", "=")
		})},
		{"oversized", fmt.Sprintf("larger than %d bytes", MaxProvenanceSize), huge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(bytes.NewReader(c.data))
			if err == nil {
				t.Fatalf("parsed: %+v", p)
			}
			if !errors.Is(err, ErrMalformed) || errs.ExitCode(err) != errs.CodeCheckFailed {
				t.Errorf("error %v is not a failed check wrapping ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("error %q does not say %q", err, c.message)
			}
		})
	}
}

func TestParseReadsAtMostTheLimit(t *testing.T) {
	r := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte(" "), 3*MaxProvenanceSize))}
	if _, err := Parse(r); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error %v", err)
	}
	if r.n != MaxProvenanceSize+1 {
		t.Errorf("read %d bytes, want %d", r.n, MaxProvenanceSize+1)
	}
}

type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestPublisherString(t *testing.T) {
	cases := map[string]Publisher{
		"GitHub o/r release.yml (environment pypi)": {Kind: KindGitHub, Repository: "o/r", Workflow: "release.yml", Environment: "pypi"},
		"GitLab g/s/p .gitlab-ci.yml":               {Kind: KindGitLab, Repository: "g/s/p", Workflow: ".gitlab-ci.yml"},
		"Google sa@p.iam.gserviceaccount.com":       {Kind: KindGoogle, Email: "sa@p.iam.gserviceaccount.com"},
		`"ActiveState"`:                             {Kind: "ActiveState"},
	}
	for want, p := range cases {
		if got := p.String(); got != want {
			t.Errorf("%+v: %q, want %q", p, got, want)
		}
	}
	// Publisher marshals with the PEP 740 field names it came from where
	// they agree, for records that show it.
	b, _ := json.Marshal(Publisher{Kind: KindGitHub, Repository: "o/r", Workflow: "w.yml"})
	if string(b) != `{"kind":"GitHub","repository":"o/r","workflow":"w.yml"}` {
		t.Errorf("json %s", b)
	}
}
