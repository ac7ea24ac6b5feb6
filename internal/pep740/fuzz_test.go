package pep740

import (
	"errors"
	"testing"
)

// FuzzParseProvenance feeds arbitrary bytes to the parser and converts what
// parses to Sigstore bundles. Nothing may panic; a refusal must be
// ErrMalformed; an accepted object must keep within the bounds.
func FuzzParseProvenance(f *testing.F) {
	for _, name := range []string{ghFile + ".provenance", googleFile + ".provenance"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(`{"version":1,"attestation_bundles":[{"publisher":{"kind":"GitHub","repository":"o/r","workflow":"w.yml"},"attestations":[{"version":1,"verification_material":{"certificate":"aGVsbG8=","transparency_entries":[{}]},"envelope":{"statement":"e30=","signature":"AA=="}}]}]}`))
	f.Add([]byte(`{"version":1,"attestation_bundles":[{"publisher":{"kind":"X"},"attestations":[{"version":1,"verification_material":{"certificate":"","transparency_entries":[],"timestamps":[null]},"envelope":{}}]}]}`))
	f.Add([]byte(`{"version":2,"attestation_bundles":[]}`))
	f.Add([]byte(`{"version":1,"attestation_bundles":[[],{},null,1]}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseBytes(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("refusal %v is not ErrMalformed", err)
			}
			return
		}
		if n := len(p.Bundles); n < 1 || n > MaxBundles {
			t.Fatalf("%d bundles", n)
		}
		for _, b := range p.Bundles {
			if b.Publisher.Kind == "" {
				t.Fatal("publisher without kind")
			}
			if n := len(b.Attestations); n < 1 || n > MaxAttestations {
				t.Fatalf("%d attestations", n)
			}
			for i := range b.Attestations {
				a := &b.Attestations[i]
				if len(a.Certificate) == 0 || len(a.Statement) == 0 || len(a.Signature) == 0 {
					t.Fatal("empty certificate, statement or signature")
				}
				if n := len(a.TransparencyEntries); n < 1 || n > MaxTransparencyEntries || len(a.Timestamps) > MaxTimestamps {
					t.Fatalf("%d transparency entries, %d timestamps", n, len(a.Timestamps))
				}
				if _, err := a.Bundle(); err != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("bundle conversion error %v is not ErrMalformed", err)
				}
			}
		}
	})
}
