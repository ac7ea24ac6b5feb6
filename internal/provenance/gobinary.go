package provenance

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
)

// GoBuildType is the buildType of provenance for Go binaries built from
// one main package for several platforms, as harden's own releases are
// (docs/buildtype.md#go-binary-v1).
const GoBuildType = "https://github.com/harden-dev/harden/blob/main/docs/buildtype.md#go-binary-v1"

// GoBinary is one binary of a Go build: a subject of its provenance.
type GoBinary struct {
	Name     string // file name, e.g. harden_v1.2.0_linux_amd64
	Platform string // os/arch
	SHA256   string // hex
}

// GoSource is the checkout a Go build ran in.
type GoSource struct {
	URL      string
	Revision string // commit id
	// Dirty is set when the work tree had uncommitted changes: the
	// revision then does not pin what was built.
	Dirty bool
}

// GoBuild describes one Go build of several platforms.
type GoBuild struct {
	Package   string            // the main package, e.g. ./cmd/harden
	Version   string            // the version stamped into the binaries
	Flags     []string          // go build flags, in order, without -o
	Env       map[string]string // environment set for every platform besides GOOS and GOARCH
	GoVersion string            // the toolchain, e.g. go1.26.8
	Source    GoSource
	Binaries  []GoBinary
	// StartedOn and FinishedOn bound the whole build.
	StartedOn, FinishedOn time.Time
	Builder               Builder
}

type goExternal struct {
	Package   string            `json:"package"`
	Version   string            `json:"version"`
	Platforms []string          `json:"platforms"`
	Flags     []string          `json:"flags"`
	Env       map[string]string `json:"env,omitempty"`
	Source    *goSourceParams   `json:"source,omitempty"`
}

type goSourceParams struct {
	URL      string `json:"url"`
	Revision string `json:"revision,omitempty"`
	Dirty    bool   `json:"dirty,omitempty"`
}

// GoStatement builds the in-toto Statement v1 with SLSA v1 provenance for
// a Go build: every binary is a subject. The same build gives the same
// statement.
func GoStatement(b GoBuild) (*intoto.Statement, error) {
	switch {
	case b.Package == "" || b.Version == "" || b.GoVersion == "":
		return nil, errors.New("provenance: a Go build needs its package, version and Go version")
	case len(b.Binaries) == 0:
		return nil, errs.Input(errors.New("provenance: the Go build made no binaries"))
	case b.Builder.ID == "":
		return nil, errors.New("provenance: the builder has no id; detect it with DetectBuilder")
	case b.StartedOn.IsZero() || b.FinishedOn.Before(b.StartedOn):
		return nil, fmt.Errorf("provenance: build times %s to %s are not a time span", b.StartedOn, b.FinishedOn)
	}
	bins := slices.Clone(b.Binaries)
	slices.SortFunc(bins, func(x, y GoBinary) int { return strings.Compare(x.Name, y.Name) })
	var subjects []*intoto.ResourceDescriptor
	platforms := map[string]bool{}
	for i, bin := range bins {
		if i > 0 && bins[i-1].Name == bin.Name {
			return nil, fmt.Errorf("provenance: two binaries are named %s", bin.Name)
		}
		if !isHex(bin.SHA256, 64) {
			return nil, fmt.Errorf("provenance: binary %s has sha256 %q, not 64 lowercase hex digits", bin.Name, bin.SHA256)
		}
		if strings.Count(bin.Platform, "/") != 1 {
			return nil, fmt.Errorf("provenance: binary %s has platform %q, want os/arch", bin.Name, bin.Platform)
		}
		platforms[bin.Platform] = true
		subjects = append(subjects, &intoto.ResourceDescriptor{
			Name:        bin.Name,
			Digest:      map[string]string{string(intoto.AlgorithmSHA256): bin.SHA256},
			Annotations: &structpb.Struct{Fields: map[string]*structpb.Value{"platform": structpb.NewStringValue(bin.Platform)}},
		})
	}
	ext := goExternal{Package: b.Package, Version: b.Version, Platforms: slices.Sorted(maps.Keys(platforms)),
		Flags: b.Flags, Env: b.Env}
	if ext.Flags == nil {
		ext.Flags = []string{}
	}
	var deps []*intoto.ResourceDescriptor
	if b.Source.URL != "" {
		ext.Source = &goSourceParams{URL: redactURL(b.Source.URL), Revision: b.Source.Revision, Dirty: b.Source.Dirty}
		rev := b.Source.Revision
		if b.Source.Dirty {
			rev = "" // the tree differed from the commit: nothing pins it
		}
		deps = append(deps, sourceDependency(buildrecord.SourceRecord{URL: b.Source.URL, Revision: rev}))
	}
	deps = append(deps, &intoto.ResourceDescriptor{Name: "go",
		Annotations: &structpb.Struct{Fields: map[string]*structpb.Value{"version": structpb.NewStringValue(b.GoVersion)}}})
	external, err := toStruct(ext)
	if err != nil {
		return nil, fmt.Errorf("provenance: encode externalParameters: %w", err)
	}
	facts := b.Builder.Internal
	if facts == nil {
		facts = map[string]any{}
	}
	internal, err := toStruct(facts)
	if err != nil {
		return nil, fmt.Errorf("provenance: encode internalParameters (builder facts must be plain JSON values): %w", err)
	}
	invocation := b.Builder.InvocationID
	if invocation == "" {
		invocation = goInvocationID(bins, b.StartedOn)
	}
	prov := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            GoBuildType,
			ExternalParameters:   external,
			InternalParameters:   internal,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: b.Builder.ID, Version: b.Builder.Version},
			Metadata: &slsa.BuildMetadata{
				InvocationId: invocation,
				StartedOn:    timestamppb.New(b.StartedOn),
				FinishedOn:   timestamppb.New(b.FinishedOn),
			},
		},
	}
	if err := prov.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: the SLSA predicate is invalid: %w", err)
	}
	pred, err := messageToStruct(prov)
	if err != nil {
		return nil, fmt.Errorf("provenance: encode predicate: %w", err)
	}
	st := &intoto.Statement{Type: intoto.StatementTypeUri, Subject: subjects, PredicateType: PredicateType, Predicate: pred}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: the in-toto statement is invalid: %w", err)
	}
	return st, nil
}

// goInvocationID is a stable urn:uuid (version 5) of the binaries'
// digests and the start time, for builds outside CI.
func goInvocationID(bins []GoBinary, started time.Time) string {
	var name strings.Builder
	for _, b := range bins {
		name.WriteString(b.SHA256 + "\n")
	}
	name.WriteString(started.UTC().Format(time.RFC3339Nano))
	u := uuidV5(uuidV5(urlNamespace(), []byte(GoBuildType)), []byte(name.String()))
	h := fmt.Sprintf("%x", u[:])
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
