package verify

import (
	"encoding/json"
	"fmt"

	"github.com/harden-dev/harden/internal/fsutil"
)

// InputSchema versions the policy input (docs/policy-input.md).
const InputSchema = "https://github.com/harden-dev/harden/blob/main/docs/policy-input.md#v1"

// Input is the document Rego policies see.
type Input struct {
	SchemaVersion string     `json:"schemaVersion"`
	Image         InputImage `json:"image"`
	Expected      Expected   `json:"expected"`
	Signatures    []Verified `json:"signatures"`
	Attestations  []Verified `json:"attestations"`
	Checks        []Check    `json:"checks"`
	// Vulnerabilities are the newest signed scan of each platform.
	Vulnerabilities []InputVuln `json:"vulnerabilities"`
	// Upstream lists the wheels of the accepted SLSA provenance with
	// their PyPI publishers; empty when no provenance was accepted.
	Upstream []InputUpstream `json:"upstream"`
}

// InputImage describes the image and each platform's config.
type InputImage struct {
	Reference  string          `json:"reference"`
	Repository string          `json:"repository"`
	Digest     string          `json:"digest"`
	MediaType  string          `json:"mediaType"`
	Platforms  []InputPlatform `json:"platforms"`
}

// InputPlatform is one platform manifest.
type InputPlatform struct {
	Platform string      `json:"platform"`
	Digest   string      `json:"digest"`
	Config   InputConfig `json:"config"`
}

// InputConfig is the part of the image config policies care about.
type InputConfig struct {
	User       string            `json:"user"`
	Entrypoint []string          `json:"entrypoint"`
	Cmd        []string          `json:"cmd"`
	Env        []string          `json:"env"`
	WorkingDir string            `json:"workingDir"`
	Labels     map[string]string `json:"labels"`
	Created    string            `json:"created"`
}

// Expected is what the verifier was asked to require.
type Expected struct {
	UID      int      `json:"uid"`
	Identity Identity `json:"identity"`
}

func buildInput(o Options, rep *Report, ts targets) *Input {
	uid := o.ExpectUID
	if uid == 0 {
		uid = 10001
	}
	in := &Input{
		SchemaVersion: InputSchema,
		Image:         InputImage{Reference: rep.Image, Repository: ts.root.ref.Context().String(), Digest: rep.Digest, MediaType: "application/vnd.oci.image.index.v1+json"},
		Expected:      Expected{UID: uid, Identity: o.Identity},
		Signatures:    []Verified{},
		Attestations:  []Verified{},
		Checks:        rep.Checks,
	}
	if len(ts.plats) == 1 && ts.plats[0] == ts.root {
		in.Image.MediaType = "application/vnd.oci.image.manifest.v1+json"
	}
	for _, t := range ts.all() {
		in.Signatures = append(in.Signatures, t.sigs...)
		in.Attestations = append(in.Attestations, t.atts...)
		if t.config == nil {
			continue
		}
		c := t.config.Config
		ic := InputConfig{User: c.User, Entrypoint: nonNil(c.Entrypoint), Cmd: nonNil(c.Cmd), Env: nonNil(c.Env), WorkingDir: c.WorkingDir,
			Labels: c.Labels, Created: t.config.Created.UTC().Format("2006-01-02T15:04:05Z")}
		if ic.Labels == nil {
			ic.Labels = map[string]string{}
		}
		in.Image.Platforms = append(in.Image.Platforms, InputPlatform{Platform: t.platform, Digest: t.ref.DigestStr(), Config: ic})
	}
	return in
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteInput writes the policy input document as indented JSON.
func WriteInput(path string, in *Input) error {
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write policy input: %w", err)
	}
	return nil
}
