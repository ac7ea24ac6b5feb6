package sbom

import (
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"spdx-json": SPDXJSON, "spdxjson": SPDXJSON, "spdx": SPDXJSON, " SPDX ": SPDXJSON,
		"cyclonedx-json": CycloneDXJSON, "cyclonedx": CycloneDXJSON, "CycloneDX-JSON": CycloneDXJSON,
	} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "syft-json", "spdx-tag-value", "cyclonedx-xml"} {
		_, err := ParseFormat(bad)
		if err == nil {
			t.Errorf("ParseFormat(%q) accepted", bad)
			continue
		}
		for _, valid := range []string{"spdx-json", "cyclonedx-json"} {
			if !strings.Contains(err.Error(), valid) {
				t.Errorf("ParseFormat(%q) error %q does not list %s", bad, err, valid)
			}
		}
	}
}

func TestFormatMetadata(t *testing.T) {
	cases := []struct {
		f                     Format
		predicate, media, ext string
	}{
		{SPDXJSON, "https://spdx.dev/Document", "application/spdx+json", ".spdx.json"},
		{CycloneDXJSON, "https://cyclonedx.org/bom", "application/vnd.cyclonedx+json", ".cdx.json"},
	}
	for _, c := range cases {
		if got := c.f.PredicateType(); got != c.predicate {
			t.Errorf("%s predicate type %q, want %q", c.f, got, c.predicate)
		}
		if got := c.f.MediaType(); got != c.media {
			t.Errorf("%s media type %q, want %q", c.f, got, c.media)
		}
		if got := c.f.Extension(); got != c.ext {
			t.Errorf("%s extension %q, want %q", c.f, got, c.ext)
		}
	}
	if Format("xml").PredicateType() != "" || Format("xml").MediaType() != "" {
		t.Error("unknown format has a predicate or media type")
	}
}

func TestDocumentsRejects(t *testing.T) {
	a := &SBOM{Platform: "linux/amd64"}
	if _, err := Documents([]*SBOM{a}, Format("xml")); err == nil {
		t.Error("unknown format accepted")
	}
	if _, err := Documents([]*SBOM{a, {Platform: "linux/amd64"}}); err == nil {
		t.Error("two SBOMs for one platform accepted")
	}
	// An SBOM not made by Generate has nothing to encode.
	if _, err := Documents([]*SBOM{a}); err == nil || !strings.Contains(err.Error(), "Generate") {
		t.Errorf("empty SBOM: %v", err)
	}
}
