package provenance

import "testing"

// FuzzParse: any bytes either parse into a statement with a SLSA v1
// predicate or give an error; never a panic, never both nil.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"r","digest":{"sha256":"` +
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `"}}],"predicateType":"https://slsa.dev/provenance/v1",` +
		`"predicate":{"buildDefinition":{"buildType":"x","externalParameters":{}},"runDetails":{"builder":{"id":"b"}}}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v1"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, pred, err := Parse(b)
		if err == nil && (st == nil || pred == nil) {
			t.Fatal("Parse returned neither a statement nor an error")
		}
		if err == nil {
			if len(st.GetSubject()) == 0 {
				t.Fatal("accepted a statement without subjects")
			}
			for _, s := range st.GetSubject() {
				_ = CheckSubject(st, "sha256:"+s.GetDigest()["sha256"])
			}
		}
	})
}
