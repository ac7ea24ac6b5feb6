package sbom_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/sbom"
)

// TestFixtureUpstream: the lock's upstream records reach the SPDX
// annotations and CycloneDX properties of exactly the packages the
// wheels installed, and the documents stay valid and deterministic.
func TestFixtureUpstream(t *testing.T) {
	_, pl, _, s := fixtureSBOM(t)
	wheels := slices.Clone(pl.Wheels)
	var attested, none string
	for i := range wheels {
		switch wheels[i].Name {
		case "click":
			wheels[i].Upstream = &buildrecord.Upstream{Attested: true, LogIndex: 42,
				Publisher:      lock.Publisher{Kind: lock.PublisherGitHub, Repository: "pallets/click", Workflow: "publish.yaml", Environment: "pypi"},
				IntegratedTime: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
			attested = wheels[i].Filename + " sha256:" + wheels[i].SHA256
		case "sqlparse":
			wheels[i].Upstream = &buildrecord.Upstream{}
			none = wheels[i].Filename + " sha256:" + wheels[i].SHA256
		}
	}
	if attested == "" || none == "" {
		t.Fatalf("the fixture has no click or sqlparse wheel: %+v", pl.Wheels)
	}
	// A Python package of the base image, recorded as if locked: it
	// must not be annotated, since harden did not install it.
	var base *sbom.Package
	for i, p := range s.Packages {
		if p.Type == sbom.PythonType && !slices.ContainsFunc(p.Layers, func(l string) bool { return slices.Contains(pl.AppLayers, l) }) {
			base = &s.Packages[i]
			wheels = append(wheels, buildrecord.WheelRecord{Name: lock.NormalizeName(p.Name), Version: p.Version, Filename: "base.whl",
				SHA256: strings.Repeat("b", 64), Upstream: &buildrecord.Upstream{Attested: true, Publisher: lock.Publisher{Kind: "GitHub", Repository: "base/base", Workflow: "x.yml"}}})
			break
		}
	}
	if base == nil {
		t.Log("the base image has no Python package of its own; the base case is not exercised")
	}
	s.WithLock(wheels, pl.AppLayers)

	spdxDoc, err := s.Encode(sbom.SPDXJSON)
	if err != nil {
		t.Fatal(err)
	}
	cdxDoc, err := s.Encode(sbom.CycloneDXJSON)
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[sbom.Format][]byte{sbom.SPDXJSON: spdxDoc, sbom.CycloneDXJSON: cdxDoc} {
		again, err := s.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, again) {
			t.Errorf("%s: encoding twice differs", f)
		}
	}
	syftDir := sbom.ModuleDir(t, "github.com/anchore/syft")
	cdxDir := sbom.ModuleDir(t, "github.com/CycloneDX/cyclonedx-go")
	validate(t, spdxDoc, filepath.Join(syftDir, "schema", "spdx-json", "spdx-schema-2.3.json"))
	validate(t, cdxDoc, filepath.Join(cdxDir, "schema", "bom-1.6.schema.json"),
		filepath.Join(cdxDir, "schema", "spdx.schema.json"), filepath.Join(cdxDir, "schema", "jsf-0.82.schemax.json"))

	// SPDX: one OTHER annotation by harden on click and on sqlparse.
	got := map[string][]any{}
	for _, p := range decode(t, spdxDoc)["packages"].([]any) {
		pm := p.(map[string]any)
		if a, ok := pm["annotations"].([]any); ok {
			got[pm["name"].(string)] = a
		}
	}
	created := decode(t, spdxDoc)["creationInfo"].(map[string]any)["created"]
	ann := func(comment string) []any {
		return []any{map[string]any{"annotator": "Tool: harden-v0.0.0-test", "annotationDate": created,
			"annotationType": "OTHER", "comment": comment}}
	}
	want := map[string][]any{
		"click": ann("harden upstream provenance: " + attested +
			" publisher=GitHub repository=pallets/click workflow=publish.yaml environment=pypi log-index=42 integrated-time=2024-05-06T07:08:09Z"),
		"sqlparse": ann("harden upstream provenance: " + none + " none"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SPDX annotations:\n got %v\nwant %v", got, want)
	}

	// CycloneDX: harden:pypi:* properties on the same two components.
	gotProps := map[string][]string{}
	for _, c := range decode(t, cdxDoc)["components"].([]any) {
		cm := c.(map[string]any)
		props, _ := cm["properties"].([]any)
		for _, p := range props {
			pm := p.(map[string]any)
			if n := pm["name"].(string); strings.HasPrefix(n, "harden:") {
				gotProps[cm["name"].(string)] = append(gotProps[cm["name"].(string)], n+"="+pm["value"].(string))
			}
		}
	}
	wantProps := map[string][]string{
		"click": {"harden:pypi:attested=true", "harden:pypi:publisher:kind=GitHub", "harden:pypi:publisher:repository=pallets/click",
			"harden:pypi:publisher:workflow=publish.yaml", "harden:pypi:publisher:environment=pypi",
			"harden:pypi:attestation:logIndex=42", "harden:pypi:attestation:integratedTime=2024-05-06T07:08:09Z"},
		"sqlparse": {"harden:pypi:attested=false"},
	}
	if !reflect.DeepEqual(gotProps, wantProps) {
		t.Errorf("CycloneDX properties:\n got %v\nwant %v", gotProps, wantProps)
	}
}
