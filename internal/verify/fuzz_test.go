package verify

import (
	"encoding/json"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// FuzzChecks feeds arbitrary statements through the provenance and SBOM
// checks as if they had verified: signed content is still untrusted
// input, and no shape of it may crash the verifier or pass by accident.
func FuzzChecks(f *testing.F) {
	f.Add([]byte(`{"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"resolvedDependencies":[{"name":"base-image","uri":"r@sha256:aa","digest":{"sha256":"aa"}}],"externalParameters":{"lockDigest":"sha256:bb"}},"runDetails":{"builder":{"id":"x"}}}}`),
		[]byte(`{"predicateType":"https://cyclonedx.org/bom","predicate":{"components":[{"name":"a","version":"1","purl":"pkg:pypi/a@1","properties":[{"name":"syft:location:0:layerID","value":"sha256:l"}]}]}}`))
	f.Add([]byte(`{"predicate":{"buildDefinition":{"resolvedDependencies":[1,"x",{"annotations":{"version":2,"filename":"a.whl","platforms":"linux/amd64"}}]}}}`),
		[]byte(`{"predicate":{"packages":[{"externalRefs":[{"referenceLocator":"pkg:pypi/x"}]}],"components":"no"}}`))
	idx, _ := name.NewDigest("example.test/app@sha256:" + "1111111111111111111111111111111111111111111111111111111111111111")
	plat, _ := name.NewDigest("example.test/app@sha256:" + "2222222222222222222222222222222222222222222222222222222222222222")
	f.Fuzz(func(t *testing.T, prov, sbom []byte) {
		var ps, ss map[string]any
		if json.Unmarshal(prov, &ps) != nil || json.Unmarshal(sbom, &ss) != nil {
			return
		}
		it := &target{ref: idx, atts: []Verified{{PredicateType: SLSAPredicateType, Statement: ps}}}
		pt := &target{ref: plat, platform: "linux/amd64", appLayer: map[string]bool{"sha256:l": true},
			atts: []Verified{{PredicateType: CycloneDXPredicateType, Statement: ss}, {PredicateType: SPDXPredicateType, Statement: ss}}}
		rep := &Report{}
		p := checkProvenance(rep, Options{}, it)
		checkSBOMs(rep, targets{root: it, plats: []*target{pt}}, p)
		for _, c := range rep.Checks {
			if c.Reason == "" {
				t.Fatalf("check %s has no reason", c.Name)
			}
		}
	})
}
