package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	cyclonedx "github.com/CycloneDX/cyclonedx-go"
	"github.com/anchore/syft/syft/format"
	"github.com/anchore/syft/syft/format/common/cyclonedxhelpers"
	"github.com/anchore/syft/syft/format/common/spdxhelpers"
	"github.com/anchore/syft/syft/format/syftjson"
	"github.com/google/uuid"
	"github.com/spdx/tools-golang/spdx"
)

//go:generate go run ./internal/gencdxlicenses cdx_licenses.go

// idBase roots the document identifiers. They only need to be unique and
// stable, not resolvable.
const idBase = "https://github.com/harden-dev/harden/sbom"

// Encode renders the SBOM in format f. The output depends only on the
// image and the options: identifiers are derived from the image name and
// digest and the creation time is Options.Epoch.
//
// syft's own encoders stamp a random UUID and the wall clock, so this
// builds syft's format models, overrides those fields and encodes them.
func (s *SBOM) Encode(f Format) ([]byte, error) {
	if s.doc == nil {
		return nil, fmt.Errorf("encode SBOM for %s: no catalogue; make SBOMs with Generate or ForBuild", s.Platform)
	}
	var (
		b   []byte
		err error
	)
	switch f {
	case SPDXJSON:
		b, err = s.encodeSPDX()
	case CycloneDXJSON:
		b, err = s.encodeCycloneDX()
	default:
		return nil, fmt.Errorf("encode SBOM: unknown format %q: use %s or %s", f, SPDXJSON, CycloneDXJSON)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s SBOM for %s: %w", f, s.Platform, err)
	}
	return b, nil
}

func (s *SBOM) encodeSPDX() ([]byte, error) {
	doc := spdxhelpers.ToFormatModel(*s.doc)
	if doc == nil || doc.CreationInfo == nil {
		return nil, fmt.Errorf("syft produced no SPDX document")
	}
	doc.DocumentNamespace = DocumentID(SPDXJSON, s.opts.Name, s.Digest)
	doc.CreationInfo.Created = s.created()
	// syft credits itself and its vendor; the document is harden's, made
	// with syft.
	doc.CreationInfo.Creators = []spdx.Creator{
		{CreatorType: "Tool", Creator: s.opts.ToolName + "-" + s.opts.ToolVersion},
	}
	if s.syftVersion != "" {
		doc.CreationInfo.Creators = append(doc.CreationInfo.Creators,
			spdx.Creator{CreatorType: "Tool", Creator: "syft-" + s.syftVersion})
	}
	s.annotateSPDX(doc)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *SBOM) encodeCycloneDX() ([]byte, error) {
	bom := cyclonedxhelpers.ToFormatModel(*s.doc)
	if bom == nil || bom.Metadata == nil {
		return nil, fmt.Errorf("syft produced no CycloneDX document")
	}
	bom.SerialNumber = DocumentID(CycloneDXJSON, s.opts.Name, s.Digest)
	bom.Metadata.Timestamp = s.created()
	tools := []cyclonedx.Component{
		{Type: cyclonedx.ComponentTypeApplication, Name: s.opts.ToolName, Version: s.opts.ToolVersion},
	}
	if s.syftVersion != "" {
		tools = append(tools, cyclonedx.Component{
			Type: cyclonedx.ComponentTypeApplication, Author: "anchore", Name: "syft", Version: s.syftVersion,
		})
	}
	bom.Metadata.Tools = &cyclonedx.ToolsChoice{Components: &tools}
	demoteLicenseIDs(bom.Components)
	s.annotateCycloneDX(bom.Components)
	var buf bytes.Buffer
	enc := cyclonedx.NewBOMEncoder(&buf, cyclonedx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	// EncodeVersion also sets specVersion and $schema. syft's default is
	// 1.7; attestation consumers expect 1.6.
	if err := enc.EncodeVersion(bom, cyclonedx.SpecVersion1_6); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// identityOf is <idBase>/<format>/<image name>/<digest hex>.
func identityOf(name, digest, format string) string {
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	_, hex, ok := strings.Cut(digest, ":")
	if !ok {
		hex = digest
	}
	return idBase + "/" + format + "/" + strings.Join(segs, "/") + "/" + hex
}

// MadeFor reports whether doc, an SBOM in format f, was made for the
// image name@digest: its namespace (SPDX) or serial number (CycloneDX)
// must be the one derived from them. A document that is not JSON is an
// error.
func MadeFor(doc []byte, f Format, name, digest string) (bool, error) {
	var d struct {
		Namespace string `json:"documentNamespace"`
		Serial    string `json:"serialNumber"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return false, fmt.Errorf("not a JSON SBOM: %w", err)
	}
	got := d.Namespace
	if f == CycloneDXJSON {
		got = d.Serial
	}
	return got == DocumentID(f, name, digest), nil
}

// DocumentID is the SPDX documentNamespace or the CycloneDX serialNumber
// of the SBOM of name@digest.
func DocumentID(f Format, name, digest string) string {
	if f == CycloneDXJSON {
		return uuid.NewSHA1(uuid.NameSpaceURL, []byte(identityOf(name, digest, "cyclonedx"))).URN()
	}
	return identityOf(name, digest, "spdx")
}

func (s *SBOM) created() string { return s.opts.Epoch.UTC().Format(time.RFC3339) }

// demoteLicenseIDs turns license IDs that the CycloneDX schema's SPDX list
// does not know into license names. syft knows newer SPDX IDs (e.g.
// Kazlib) than the list bundled with the schema, and validators reject an
// unknown ID; as a name the license text survives and the document stays
// valid.
func demoteLicenseIDs(components *[]cyclonedx.Component) {
	if components == nil {
		return
	}
	for i := range *components {
		c := &(*components)[i]
		demoteLicenseIDs(c.Components)
		if c.Licenses == nil {
			continue
		}
		for _, choice := range *c.Licenses {
			if l := choice.License; l != nil && l.ID != "" && !cdxLicenseID(l.ID) {
				l.Name, l.ID = l.ID, ""
			}
		}
	}
}

// SyftJSON is the catalogue in syft's own JSON format, which keeps all a
// vulnerability matcher reads (the distro, each package's upstream
// source).
func (s *SBOM) SyftJSON() ([]byte, error) {
	b, err := format.Encode(*s.doc, syftjson.NewFormatEncoder())
	if err != nil {
		return nil, fmt.Errorf("sbom %s: encode syft JSON: %w", s.Platform, err)
	}
	return b, nil
}
