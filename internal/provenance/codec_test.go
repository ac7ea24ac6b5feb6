package provenance

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/harden-dev/harden/internal/errs"
)

func TestNormalizeJSON(t *testing.T) {
	// The kinds of whitespace protojson varies between builds.
	variants := []string{
		`{"a":1,"b":[true,{"c":"d"}]}`,
		`{"a": 1, "b": [true, {"c": "d"}]}`,
		"{\"a\":  1,\n\"b\" :[ true,{ \"c\":\"d\" } ] }  ",
	}
	want := "{\n  \"a\": 1,\n  \"b\": [\n    true,\n    {\n      \"c\": \"d\"\n    }\n  ]\n}\n"
	for _, v := range variants {
		got, err := normalizeJSON([]byte(v))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("normalizeJSON(%q) =\n%s\nwant\n%s", v, got, want)
		}
	}
	if _, err := normalizeJSON([]byte(`{"a":`)); err == nil {
		t.Error("broken JSON was accepted")
	}
}

func TestParseRoundTrip(t *testing.T) {
	st, prov := mustStatement(t, testParams())
	b, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	gotSt, gotProv, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(gotSt, st) {
		t.Errorf("statement changed in a round trip:\n got %v\nwant %v", gotSt, st)
	}
	if !proto.Equal(gotProv, prov) {
		t.Errorf("provenance changed in a round trip:\n got %v\nwant %v", gotProv, prov)
	}
	again, err := Marshal(gotSt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Errorf("re-marshalling a parsed statement changed its bytes")
	}
}

// minimalV01 is a v0.1 statement as older tools write it, with fields this
// package does not know, which consumers must ignore.
const minimalV01 = `{
  "_type": "https://in-toto.io/Statement/v0.1",
  "subject": [{"name": "ghcr.io/org/pgcli", "digest": {"sha256": "` + "aa" + `"}}],
  "predicateType": "https://slsa.dev/provenance/v1",
  "predicate": {
    "buildDefinition": {
      "buildType": "https://example.test/buildtype/v1",
      "externalParameters": {"workflow": "release.yml"},
      "futureField": 1
    },
    "runDetails": {"builder": {"id": "https://example.test/builder"}}
  },
  "futureTopLevel": true
}`

func v01(digestHex string) []byte {
	return []byte(strings.Replace(minimalV01, `"aa"`, `"`+digestHex+`"`, 1))
}

func TestParseV01(t *testing.T) {
	st, prov, err := Parse(v01(hexOf("index")))
	if err != nil {
		t.Fatal(err)
	}
	if st.GetType() != "https://in-toto.io/Statement/v0.1" {
		t.Errorf("_type %q", st.GetType())
	}
	if prov.GetRunDetails().GetBuilder().GetId() != "https://example.test/builder" ||
		prov.GetBuildDefinition().GetBuildType() != "https://example.test/buildtype/v1" {
		t.Errorf("provenance %v", prov)
	}
	if err := CheckSubject(st, dg("index")); err != nil {
		t.Error(err)
	}
}

func TestParseRejects(t *testing.T) {
	good := string(v01(hexOf("index")))
	tests := []struct {
		name, doc, want string
	}{
		{"other predicate type", strings.Replace(good, "https://slsa.dev/provenance/v1", "https://spdx.dev/Document", 1), `predicateType is "https://spdx.dev/Document"`},
		{"slsa v0.2", strings.Replace(good, "https://slsa.dev/provenance/v1", "https://slsa.dev/provenance/v0.2", 1), "predicateType"},
		{"other statement type", strings.Replace(good, "Statement/v0.1", "Statement/v2", 1), `statement _type "https://in-toto.io/Statement/v2"`},
		{"dsse envelope", `{"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": []}`, "no _type"},
		{"not json", `not json`, "not an in-toto statement"},
		{"no subjects", strings.Replace(good, `"subject": [{"name": "ghcr.io/org/pgcli", "digest": {"sha256": "`+hexOf("index")+`"}}],`, "", 1), "subject"},
		{"short subject digest", string(v01("abcd")), "invalid in-toto statement"},
		{"no builder id", strings.Replace(good, `{"id": "https://example.test/builder"}`, `{}`, 1), "runDetails.builder"},
		{"no build type", strings.Replace(good, `"buildType": "https://example.test/buildtype/v1",`, "", 1), "buildType"},
		{"predicate of the wrong shape", strings.Replace(good, `"runDetails": {"builder"`, `"runDetails": {"builder": "x", "b"`, 1), "not SLSA v1 provenance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.doc == good {
				t.Fatal("the test case did not change the document")
			}
			_, _, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if errs.ExitCode(err) != errs.CodeInput {
				t.Errorf("exit code %d, want %d", errs.ExitCode(err), errs.CodeInput)
			}
		})
	}
}

func TestCheckSubject(t *testing.T) {
	st, _ := mustStatement(t, testParams())
	// Upper-case hex names the same digest.
	for _, d := range []string{dg("index"), dg("amd64"), dg("arm64"), "sha256:" + strings.ToUpper(hexOf("arm64"))} {
		if err := CheckSubject(st, d); err != nil {
			t.Errorf("CheckSubject(%s): %v", d, err)
		}
	}

	other := dg("some other image")
	err := CheckSubject(st, other)
	if err == nil {
		t.Fatal("a digest that is not a subject was accepted")
	}
	for _, s := range []string{other, "ghcr.io/org/pgcli@" + dg("index"), "ghcr.io/org/pgcli@" + dg("arm64")} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if errs.ExitCode(err) != errs.CodeCheckFailed {
		t.Errorf("exit code %d, want %d", errs.ExitCode(err), errs.CodeCheckFailed)
	}

	// A base image or wheel digest is not a subject.
	if err := CheckSubject(st, dg("base-index")); err == nil {
		t.Error("the base image digest was accepted as a subject")
	}
	for _, bad := range []string{"", hexOf("index"), "sha256:"} {
		if err := CheckSubject(st, bad); err == nil || errs.ExitCode(err) != errs.CodeInput {
			t.Errorf("CheckSubject(%q) = %v, want an input error", bad, err)
		}
	}
}
