package provenance

import (
	"bytes"
	"testing"
)

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

// FuzzReadInputs: whatever a signed statement holds, reading the build
// inputs out of it either errors or yields inputs a rebuild can use: a
// pinned base, at least one wheel with a sha256, every wheel on a
// platform the build lists, and an index subject.
func FuzzReadInputs(f *testing.F) {
	st, err := Statement(testParams())
	if err != nil {
		f.Fatal(err)
	}
	good, err := Marshal(st)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"uid": 10001`), []byte(`"uid": "x"`), 1))
	f.Add(bytes.Replace(good, []byte(`"platforms": [`), []byte(`"platforms": [1, `), -1))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, prov, err := Parse(b)
		if err != nil {
			return
		}
		in, err := ReadInputs(st, prov)
		if err != nil {
			return
		}
		if _, err := in.Config.BaseRef(); err != nil {
			t.Fatalf("accepted an unpinned base %q: %v", in.Config.Base, err)
		}
		if len(in.Wheels) == 0 || in.Subjects[""] == "" || in.LockPath == "" {
			t.Fatalf("accepted inputs without wheels, index subject or lock: %+v", in)
		}
		for _, w := range in.Wheels {
			if len(w.SHA256) != 64 || len(w.Platforms) == 0 {
				t.Fatalf("accepted a wheel without a digest or platforms: %+v", w)
			}
		}
	})
}
