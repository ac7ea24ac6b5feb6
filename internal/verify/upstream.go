package verify

import (
	"cmp"
	"slices"
	"strings"

	"github.com/harden-dev/harden/internal/wheel"
)

// InputUpstream is one wheel of the accepted SLSA provenance with the
// upstream publisher record its annotations carry (input.upstream).
type InputUpstream struct {
	Name      string   `json:"name"` // PEP 503 normalised
	Version   string   `json:"version"`
	Filename  string   `json:"filename"`
	SHA256    string   `json:"sha256"`
	Platforms []string `json:"platforms"`
	// Recorded is false when the provenance carries no upstream record
	// for the wheel; Attested is then false too.
	Recorded       bool            `json:"recorded"`
	Attested       bool            `json:"attested"`
	Publisher      *InputPublisher `json:"publisher,omitempty"`
	LogIndex       *int64          `json:"logIndex,omitempty"`
	IntegratedTime string          `json:"integratedTime,omitempty"`
	Timestamp      string          `json:"timestamp,omitempty"`
}

// InputPublisher is a PyPI Trusted Publisher as the provenance names it.
type InputPublisher struct {
	Kind        string `json:"kind"`
	Repository  string `json:"repository,omitempty"`
	Workflow    string `json:"workflow,omitempty"`
	Environment string `json:"environment,omitempty"`
	Email       string `json:"email,omitempty"`
}

// upstreamOf lists the wheels of a verified SLSA statement with their
// pypi* annotations (docs/buildtype.md), sorted by name, filename, then
// digest. Callers pass only a statement whose signature verified.
func upstreamOf(st map[string]any) []InputUpstream {
	deps, _ := get(st, "predicate", "buildDefinition", "resolvedDependencies").([]any)
	out := []InputUpstream{}
	for _, d := range deps {
		dm, _ := d.(map[string]any)
		ann, _ := dm["annotations"].(map[string]any)
		filename, _ := ann["filename"].(string)
		version, _ := ann["version"].(string)
		name, _ := dm["name"].(string)
		if !strings.HasSuffix(filename, ".whl") || version == "" || name == "" {
			continue
		}
		u := InputUpstream{Name: wheel.NormalizeName(name), Version: version, Filename: filename, SHA256: str(dm, "digest", "sha256"), Platforms: []string{}}
		plats, _ := ann["platforms"].([]any)
		for _, p := range plats {
			if s, ok := p.(string); ok {
				u.Platforms = append(u.Platforms, s)
			}
		}
		u.Attested, u.Recorded = ann["pypiAttested"].(bool)
		if u.Attested {
			if pm, ok := ann["pypiPublisher"].(map[string]any); ok {
				u.Publisher = &InputPublisher{Kind: str(pm, "kind"), Repository: str(pm, "repository"), Workflow: str(pm, "workflow"),
					Environment: str(pm, "environment"), Email: str(pm, "email")}
			}
			if n, ok := ann["pypiAttestationLogIndex"].(float64); ok && n >= 0 && n == float64(int64(n)) {
				i := int64(n)
				u.LogIndex = &i
			}
			u.IntegratedTime = str(ann, "pypiAttestationIntegratedTime")
			u.Timestamp = str(ann, "pypiAttestationTimestamp")
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b InputUpstream) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Filename, b.Filename), strings.Compare(a.SHA256, b.SHA256))
	})
	return out
}

// upstreamInput is input.upstream: the wheels of the accepted provenance,
// or an empty list when none was accepted.
func (p *provenance) upstreamInput() []InputUpstream {
	if p == nil || p.upstream == nil {
		return []InputUpstream{}
	}
	return p.upstream
}
