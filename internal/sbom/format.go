package sbom

import (
	"fmt"
	"strings"
)

// Format is an SBOM document format harden writes.
type Format string

// The formats harden writes.
const (
	SPDXJSON      Format = "spdx-json"      // SPDX 2.3 JSON
	CycloneDXJSON Format = "cyclonedx-json" // CycloneDX 1.6 JSON
)

// Formats lists every supported format, in the order files are written.
func Formats() []Format { return []Format{SPDXJSON, CycloneDXJSON} }

// PredicateType is the in-toto predicate type for an attestation carrying
// a document of this format.
func (f Format) PredicateType() string {
	switch f {
	case SPDXJSON:
		return "https://spdx.dev/Document"
	case CycloneDXJSON:
		return "https://cyclonedx.org/bom"
	}
	return ""
}

// MediaType is the IANA media type of a document of this format.
func (f Format) MediaType() string {
	switch f {
	case SPDXJSON:
		return "application/spdx+json"
	case CycloneDXJSON:
		return "application/vnd.cyclonedx+json"
	}
	return ""
}

// Extension is the conventional file name suffix of the format.
func (f Format) Extension() string {
	switch f {
	case SPDXJSON:
		return ".spdx.json"
	case CycloneDXJSON:
		return ".cdx.json"
	}
	return ""
}

func (f Format) valid() bool { return f.Extension() != "" }

// ParseFormat accepts a format name as a user would type it.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "spdx-json", "spdxjson", "spdx":
		return SPDXJSON, nil
	case "cyclonedx-json", "cyclonedxjson", "cyclonedx", "cdx":
		return CycloneDXJSON, nil
	}
	return "", fmt.Errorf("unknown SBOM format %q: use one of spdx-json (or spdx), cyclonedx-json (or cyclonedx)", s)
}
