package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
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
	doc.DocumentNamespace = s.identity("spdx")
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
	bom.SerialNumber = uuid.NewSHA1(uuid.NameSpaceURL, []byte(s.identity("cyclonedx"))).URN()
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

// identity is the stable URI of this document in the given format.
func (s *SBOM) identity(format string) string { return identityOf(s.opts.Name, s.Digest, format) }

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

// ReadFile returns the SBOM that WriteFiles wrote in dir for platform in
// format f, if it was made for this image: its namespace (SPDX) or serial
// number (CycloneDX) must be the one derived from name and digest. It
// returns nil, nil when there is no such file, so callers generate one.
func ReadFile(dir, name, platform, digest string, f Format) ([]byte, error) {
	path := filepath.Join(dir, FileName(platform, f))
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read SBOM: %w", err)
	}
	var doc struct {
		Namespace string `json:"documentNamespace"`
		Serial    string `json:"serialNumber"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s is not a JSON SBOM: %w; delete it or run harden sbom again", path, err)
	}
	want, got := identityOf(name, digest, "spdx"), doc.Namespace
	if f == CycloneDXJSON {
		want, got = uuid.NewSHA1(uuid.NameSpaceURL, []byte(identityOf(name, digest, "cyclonedx"))).URN(), doc.Serial
	}
	if got != want {
		return nil, nil // made for another image or build: regenerate
	}
	return b, nil
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
