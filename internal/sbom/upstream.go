package sbom

import (
	"slices"
	"strconv"
	"strings"
	"time"

	cyclonedx "github.com/CycloneDX/cyclonedx-go"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/lock"
)

// CycloneDX property names of a wheel's upstream record (docs/sbom.md).
const (
	propAttested       = "harden:pypi:attested"
	propPublisher      = "harden:pypi:publisher:"
	propLogIndex       = "harden:pypi:attestation:logIndex"
	propIntegratedTime = "harden:pypi:attestation:integratedTime"
	propTimestamp      = "harden:pypi:attestation:timestamp"
)

// spdxUpstreamPrefix starts the comment of the SPDX annotation that
// carries a wheel's upstream record; the rest is the lock's provenance
// comment for the file (docs/upstream.md).
const spdxUpstreamPrefix = "harden upstream "

// withLock remembers the locked wheels and harden's layers of the
// platform, so the encoders can add each wheel's upstream record.
func (s *SBOM) withLock(wheels []buildrecord.WheelRecord, appLayers []string) {
	s.wheels, s.appLayers = wheels, appLayers
}

// upstreamByID maps the syft id of every Python package in harden's
// layers that a locked wheel with an upstream record installed to that
// wheel, matched as CheckLock matches them (normalised name, PEP 440
// version). Base image packages are never matched.
func (s *SBOM) upstreamByID() map[string]buildrecord.WheelRecord {
	out := map[string]buildrecord.WheelRecord{}
	if s.doc == nil || len(s.wheels) == 0 {
		return out
	}
	for p := range s.doc.Artifacts.Packages.Enumerate() {
		if string(p.Type) != pythonType {
			continue
		}
		inApp := false
		for _, l := range p.Locations.ToUnorderedSlice() {
			if slices.Contains(s.appLayers, l.FileSystemID) {
				inApp = true
				break
			}
		}
		if !inApp {
			continue
		}
		n := lock.NormalizeName(p.Name)
		i := slices.IndexFunc(s.wheels, func(w buildrecord.WheelRecord) bool {
			return w.Upstream != nil && lock.NormalizeName(w.Name) == n && lock.SameVersion(p.Version, w.Version)
		})
		if i >= 0 {
			out[string(p.ID())] = s.wheels[i]
		}
	}
	return out
}

// fileProvenance is the lock's form of w's upstream record.
func fileProvenance(w buildrecord.WheelRecord) lock.FileProvenance {
	u := w.Upstream
	return lock.FileProvenance{Filename: w.Filename, SHA256: w.SHA256, Attested: u.Attested, Publisher: u.Publisher,
		LogIndex: u.LogIndex, IntegratedTime: u.IntegratedTime, Timestamp: u.Timestamp}
}

// annotateSPDX adds to each matched package an OTHER annotation by the
// tool whose comment is the lock's provenance line of the wheel. syft
// derives a package's SPDX id as "Package-<type>-<name>-<syft id>".
func (s *SBOM) annotateSPDX(doc *spdx.Document) {
	byID := s.upstreamByID()
	if len(byID) == 0 {
		return
	}
	for _, p := range doc.Packages {
		id := string(p.PackageSPDXIdentifier)
		for sid, w := range byID {
			if !strings.HasSuffix(id, "-"+sid) {
				continue
			}
			p.Annotations = append(p.Annotations, spdx.Annotation{
				Annotator:         common.Annotator{AnnotatorType: "Tool", Annotator: s.opts.ToolName + "-" + s.opts.ToolVersion},
				AnnotationDate:    s.created(),
				AnnotationType:    "OTHER",
				AnnotationComment: spdxUpstreamPrefix + fileProvenance(w).Comment(),
			})
			break
		}
	}
}

// annotateCycloneDX adds harden:pypi:* properties to each matched
// component. syft's bom-ref is the purl with a package-id qualifier (or
// the bare id when the package has no purl).
func (s *SBOM) annotateCycloneDX(components *[]cyclonedx.Component) {
	byID := s.upstreamByID()
	if len(byID) == 0 || components == nil {
		return
	}
	for i := range *components {
		c := &(*components)[i]
		w, ok := byID[syftIDOf(c.BOMRef)]
		if !ok {
			continue
		}
		props := upstreamProperties(w.Upstream)
		if c.Properties != nil {
			props = append(*c.Properties, props...)
		}
		c.Properties = &props
	}
}

func syftIDOf(bomRef string) string {
	if _, q, ok := strings.Cut(bomRef, "package-id="); ok {
		id, _, _ := strings.Cut(q, "&")
		return id
	}
	return bomRef
}

// upstreamProperties lists u as CycloneDX properties, in a fixed order.
func upstreamProperties(u *buildrecord.Upstream) []cyclonedx.Property {
	props := []cyclonedx.Property{{Name: propAttested, Value: strconv.FormatBool(u.Attested)}}
	if !u.Attested {
		return props
	}
	add := func(name, v string) {
		if v != "" {
			props = append(props, cyclonedx.Property{Name: name, Value: v})
		}
	}
	p := u.Publisher
	add(propPublisher+"kind", p.Kind)
	add(propPublisher+"repository", p.Repository)
	add(propPublisher+"workflow", p.Workflow)
	add(propPublisher+"environment", p.Environment)
	add(propPublisher+"email", p.Email)
	add(propLogIndex, strconv.FormatInt(u.LogIndex, 10))
	if !u.IntegratedTime.IsZero() {
		add(propIntegratedTime, u.IntegratedTime.UTC().Format(time.RFC3339))
	}
	if !u.Timestamp.IsZero() {
		add(propTimestamp, u.Timestamp.UTC().Format(time.RFC3339))
	}
	return props
}
