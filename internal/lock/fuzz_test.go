package lock

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// Seeds live in testdata/fuzz/<FuzzName>/.

func FuzzParseLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		lf, err := Parse(bytes.NewReader(data), "fuzz.lock")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || !strings.HasPrefix(err.Error(), "fuzz.lock:") {
				t.Fatalf("error is not a located *ParseError: %v", err)
			}
			return
		}
		if len(lf.Requirements) == 0 {
			t.Fatal("accepted a lock without requirements")
		}
		seen := map[string]bool{}
		for _, r := range lf.Requirements {
			if len(r.Hashes) == 0 {
				t.Fatalf("%s has no sha256 hash", r.Name)
			}
			for _, h := range r.Hashes {
				if b, err := hex.DecodeString(h); err != nil || len(b) != 32 || strings.ToLower(h) != h {
					t.Fatalf("%s: bad hash %q", r.Name, h)
				}
				if seen[r.Name+h] {
					t.Fatalf("%s: duplicate hash %s", r.Name, h)
				}
				seen[r.Name+h] = true
			}
			if r.Key != NormalizeName(r.Name) || !validName(r.Name) {
				t.Fatalf("bad name/key %q/%q", r.Name, r.Key)
			}
			if _, err := pep440.Parse(r.Version); err != nil || strings.Contains(r.Version, "*") {
				t.Fatalf("%s: bad version %q", r.Name, r.Version)
			}
			if r.Marker != "" {
				if _, err := ParseMarker(r.Marker); err != nil {
					t.Fatalf("%s: accepted marker does not parse: %v", r.Name, err)
				}
			}
			if r.Line < 1 || r.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("%s: line %d out of range", r.Name, r.Line)
			}
		}
		again, err := Parse(bytes.NewReader(data), "fuzz.lock")
		if err != nil || !reflect.DeepEqual(again, lf) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

func FuzzParseInput(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInput(bytes.NewReader(data), "fuzz.in")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error is not a located *ParseError: %v", err)
			}
			return
		}
		for _, r := range in.Requirements {
			if r.Key != NormalizeName(r.Name) || !validName(r.Name) || r.Line < 1 {
				t.Fatalf("bad requirement %+v", r)
			}
			if r.Marker != "" {
				if _, err := ParseMarker(r.Marker); err != nil {
					t.Fatalf("accepted marker does not parse: %v", err)
				}
			}
			if r.Specifier != "" {
				for _, part := range strings.Split(r.Specifier, ",") {
					m := clauseRE.FindStringSubmatch(part)
					if m == nil || checkClause(clause{m[1], m[2]}) != nil {
						t.Fatalf("accepted specifier %q does not re-validate", r.Specifier)
					}
				}
			}
		}
	})
}

func FuzzParseMarker(f *testing.F) {
	envs := []Env{{}}
	for _, p := range [][2]string{{"3.12.8", "linux/amd64"}, {"3.8.0", "linux/arm64"}, {"3.13.0rc1", "linux/arm/v7"}} {
		e, err := TargetEnv(p[0], p[1])
		if err != nil {
			f.Fatal(err)
		}
		envs = append(envs, e)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMarker(s)
		if err != nil {
			return
		}
		canon := m.String()
		m2, err := ParseMarker(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if m2.String() != canon {
			t.Fatalf("canonical form not stable: %q → %q", canon, m2.String())
		}
		for _, env := range envs {
			r1, err1 := m.Eval(env)
			r2, err2 := m2.Eval(env)
			if r1 != r2 || (err1 == nil) != (err2 == nil) {
				t.Fatalf("%q and its canonical form %q disagree: %v/%v %v/%v", s, canon, r1, err1, r2, err2)
			}
		}
	})
}
