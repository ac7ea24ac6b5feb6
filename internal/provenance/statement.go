// Package provenance turns a build record into SLSA v1 provenance: an
// in-toto Statement v1 whose subjects are the image index and its platform
// manifests. The format of the predicate is defined in docs/buildtype.md.
package provenance

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
)

// Identifiers written into every statement.
const (
	PredicateType = "https://slsa.dev/provenance/v1"
	BuildType     = "https://github.com/harden-dev/harden/blob/main/docs/buildtype.md#v1"
)

// baseImageDep names the base image entries of resolvedDependencies.
const baseImageDep = "base-image"

// Params are the inputs of Statement.
type Params struct {
	Record *buildrecord.Record
	// Config is the harden.yaml the build used. It may be nil; the user
	// and entrypoint are then left out of externalParameters.
	Config *config.Config
	// Repository names the subjects, e.g. "ghcr.io/org/pgcli"; "" means
	// Config.Repository.
	Repository string
	Builder    Builder
}

// Statement builds the in-toto Statement v1 with the SLSA v1 provenance
// predicate for one build. The same inputs always give the same statement.
func Statement(p Params) (*intoto.Statement, error) {
	rec := p.Record
	if rec == nil {
		return nil, errors.New("provenance: no build record; run harden build first")
	}
	repo, err := subjectRepository(p)
	if err != nil {
		return nil, err
	}
	if p.Builder.ID == "" {
		return nil, errors.New("provenance: the builder has no id; detect it with DetectBuilder")
	}
	if err := checkConfig(rec, p.Config); err != nil {
		return nil, err
	}
	if rec.StartedOn.IsZero() || rec.FinishedOn.IsZero() {
		return nil, errs.Input(errors.New("provenance: the build record has no build times; rebuild with this harden"))
	}
	if rec.FinishedOn.Before(rec.StartedOn) {
		return nil, errs.Input(fmt.Errorf("provenance: the build record finished (%s) before it started (%s); rebuild",
			rec.FinishedOn.Format(time.RFC3339), rec.StartedOn.Format(time.RFC3339)))
	}
	if len(rec.Platforms) == 0 {
		return nil, errs.Input(errors.New("provenance: the build record lists no platforms; rebuild with this harden"))
	}

	subjects, err := subjectsOf(rec, repo)
	if err != nil {
		return nil, err
	}
	deps, err := resolvedDependencies(rec)
	if err != nil {
		return nil, err
	}
	external, err := toStruct(externalParameters(rec, p.Config, repo))
	if err != nil {
		return nil, fmt.Errorf("provenance: encode externalParameters: %w", err)
	}
	internal, err := toStruct(internalParameters(rec, p.Builder))
	if err != nil {
		return nil, fmt.Errorf("provenance: encode internalParameters (builder facts must be plain JSON values): %w", err)
	}
	invocation := p.Builder.InvocationID
	if invocation == "" {
		invocation = invocationID(rec.Digest, rec.StartedOn)
	}
	prov := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   external,
			InternalParameters:   internal,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: p.Builder.ID, Version: p.Builder.Version},
			Metadata: &slsa.BuildMetadata{
				InvocationId: invocation,
				StartedOn:    timestamppb.New(rec.StartedOn),
				FinishedOn:   timestamppb.New(rec.FinishedOn),
			},
		},
	}
	if err := prov.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: the SLSA predicate is invalid: %w; check the build record", err)
	}
	pred, err := messageToStruct(prov)
	if err != nil {
		return nil, fmt.Errorf("provenance: encode predicate: %w", err)
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       subjects,
		PredicateType: PredicateType,
		Predicate:     pred,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: the in-toto statement is invalid: %w; check the build record", err)
	}
	return st, nil
}

func subjectRepository(p Params) (string, error) {
	repo := p.Repository
	if repo == "" && p.Config != nil {
		repo = p.Config.Repository
	}
	if repo == "" {
		return "", errs.Input(errors.New("provenance: no repository to name the image; set repository: in harden.yaml or pass --repo"))
	}
	if _, err := name.NewRepository(repo); err != nil {
		return "", errs.Input(fmt.Errorf("provenance: repository %q: %w; use e.g. ghcr.io/org/pgcli (no tag or digest)", repo, err))
	}
	return repo, nil
}

// checkConfig refuses a harden.yaml that no longer describes the build.
func checkConfig(rec *buildrecord.Record, c *config.Config) error {
	if c == nil {
		return nil
	}
	if c.Name != rec.Name || c.Version != rec.Version {
		return errs.Input(fmt.Errorf("provenance: harden.yaml is %s %s but the build record is %s %s; rebuild, or attest with the harden.yaml the build used",
			c.Name, c.Version, rec.Name, rec.Version))
	}
	return nil
}

// subjectsOf lists the index and then every platform manifest.
func subjectsOf(rec *buildrecord.Record, repo string) ([]*intoto.ResourceDescriptor, error) {
	d, err := sha256Set(rec.Digest, "digest")
	if err != nil {
		return nil, err
	}
	out := []*intoto.ResourceDescriptor{{Name: repo, Digest: d}}
	for i, pl := range rec.Platforms {
		d, err := sha256Set(pl.Digest, fmt.Sprintf("platforms[%d].digest", i))
		if err != nil {
			return nil, err
		}
		ann, err := structpb.NewStruct(map[string]any{"platform": pl.Platform})
		if err != nil {
			return nil, fmt.Errorf("provenance: platform %q: %w", pl.Platform, err)
		}
		out = append(out, &intoto.ResourceDescriptor{Name: repo, Digest: d, Annotations: ann})
	}
	return out, nil
}

// resolvedDependencies lists, in this order: the base image index, the
// base manifest of every platform, the lock file, the git source and the
// wheels (once each, sorted).
func resolvedDependencies(rec *buildrecord.Record) ([]*intoto.ResourceDescriptor, error) {
	base, err := sha256Set(rec.Base.Digest, "base.digest")
	if err != nil {
		return nil, err
	}
	if rec.Base.Ref == "" {
		return nil, errs.Input(errors.New("provenance: the build record has no base.ref; rebuild with this harden"))
	}
	deps := []*intoto.ResourceDescriptor{{Name: baseImageDep, Uri: rec.Base.Ref, Digest: base}}
	baseRepo, _, _ := strings.Cut(rec.Base.Ref, "@")
	for i, pl := range rec.Platforms {
		d, err := sha256Set(pl.BaseDigest, fmt.Sprintf("platforms[%d].baseDigest", i))
		if err != nil {
			return nil, err
		}
		ann, err := structpb.NewStruct(map[string]any{"platform": pl.Platform})
		if err != nil {
			return nil, fmt.Errorf("provenance: platform %q: %w", pl.Platform, err)
		}
		deps = append(deps, &intoto.ResourceDescriptor{Name: baseImageDep, Uri: baseRepo + "@" + pl.BaseDigest, Digest: d, Annotations: ann})
	}

	lock, err := sha256Set(rec.Lock.Digest, "lock.digest")
	if err != nil {
		return nil, err
	}
	deps = append(deps, &intoto.ResourceDescriptor{
		Name: path.Base(filepath.ToSlash(rec.Lock.Path)), Uri: rec.Lock.Path, Digest: lock,
	})

	if src := sourceDependency(rec.Source); src != nil {
		deps = append(deps, src)
	}

	wheels, err := wheelDependencies(rec)
	if err != nil {
		return nil, err
	}
	return append(deps, wheels...), nil
}

// sourceDependency describes the git source, or nil when the record has
// no source URL. A revision that is not a commit id (a branch or tag)
// is kept in the URI but gives no digest, since it does not pin content.
func sourceDependency(s buildrecord.SourceRecord) *intoto.ResourceDescriptor {
	if s.URL == "" {
		return nil
	}
	uri := redactURL(s.URL)
	if !strings.HasPrefix(uri, "git+") {
		uri = "git+" + uri
	}
	if s.Revision == "" {
		return &intoto.ResourceDescriptor{Uri: uri}
	}
	rd := &intoto.ResourceDescriptor{Uri: uri + "@" + s.Revision}
	// Only a full SHA-1 commit id fits the in-toto gitCommit digest.
	if isHex(strings.ToLower(s.Revision), 40) {
		rd.Digest = map[string]string{string(intoto.AlgorithmGitCommit): strings.ToLower(s.Revision)}
	}
	return rd
}

// wheel is one distinct wheel file across all platforms.
type wheel struct {
	buildrecord.WheelRecord
	sha256    string
	platforms []string
}

// wheelDependencies lists every wheel file once, keyed by content, with
// the platforms that installed it; sorted by name, filename, then digest.
func wheelDependencies(rec *buildrecord.Record) ([]*intoto.ResourceDescriptor, error) {
	bySum := map[string]*wheel{}
	for i, pl := range rec.Platforms {
		for j, w := range pl.Wheels {
			field := fmt.Sprintf("platforms[%d].wheels[%d] (%s)", i, j, w.Filename)
			sum := strings.TrimPrefix(strings.ToLower(w.SHA256), "sha256:")
			if !isHex(sum, 64) {
				return nil, errs.Input(fmt.Errorf("provenance: build record %s has sha256 %q, not 64 hex digits; rebuild with this harden", field, w.SHA256))
			}
			if w.Name == "" || w.Filename == "" {
				return nil, errs.Input(fmt.Errorf("provenance: build record %s has no name or filename; rebuild with this harden", field))
			}
			seen, ok := bySum[sum]
			if !ok {
				bySum[sum] = &wheel{WheelRecord: w, sha256: sum, platforms: []string{pl.Platform}}
				continue
			}
			if seen.Name != w.Name || seen.Version != w.Version || seen.Filename != w.Filename {
				return nil, errs.Input(fmt.Errorf("provenance: build record %s has the same sha256 as %s %s (%s); the record is inconsistent, rebuild",
					field, seen.Name, seen.Version, seen.Filename))
			}
			if !slices.Contains(seen.platforms, pl.Platform) {
				seen.platforms = append(seen.platforms, pl.Platform)
			}
		}
	}
	all := make([]*wheel, 0, len(bySum))
	for _, w := range bySum {
		slices.Sort(w.platforms)
		all = append(all, w)
	}
	slices.SortFunc(all, func(a, b *wheel) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Filename, b.Filename), strings.Compare(a.sha256, b.sha256))
	})
	out := make([]*intoto.ResourceDescriptor, 0, len(all))
	for _, w := range all {
		ann, err := toStruct(newWheelAnnotations(w))
		if err != nil {
			return nil, fmt.Errorf("provenance: wheel %s: %w", w.Filename, err)
		}
		out = append(out, &intoto.ResourceDescriptor{
			Name: w.Name, Uri: redactURL(w.URL), Digest: map[string]string{string(intoto.AlgorithmSHA256): w.sha256}, Annotations: ann,
		})
	}
	return out, nil
}

type wheelAnnotations struct {
	Version   string   `json:"version"`
	Filename  string   `json:"filename"`
	Platforms []string `json:"platforms"`
	// The upstream record of the lock (docs/buildtype.md); absent when
	// the build record has none.
	PyPIAttested       *bool           `json:"pypiAttested,omitempty"`
	PyPIPublisher      *lock.Publisher `json:"pypiPublisher,omitempty"`
	PyPILogIndex       *int64          `json:"pypiAttestationLogIndex,omitempty"`
	PyPIIntegratedTime string          `json:"pypiAttestationIntegratedTime,omitempty"`
	PyPITimestamp      string          `json:"pypiAttestationTimestamp,omitempty"`
	PyPIIndex          string          `json:"pypiIndex,omitempty"`
}

func newWheelAnnotations(w *wheel) wheelAnnotations {
	a := wheelAnnotations{Version: w.Version, Filename: w.Filename, Platforms: w.platforms}
	u := w.Upstream
	if u == nil {
		return a
	}
	a.PyPIAttested, a.PyPIIndex = &u.Attested, redactURL(u.Index)
	if !u.Attested {
		return a
	}
	pub, idx := u.Publisher, u.LogIndex
	a.PyPIPublisher, a.PyPILogIndex = &pub, &idx
	if !u.IntegratedTime.IsZero() {
		a.PyPIIntegratedTime = u.IntegratedTime.UTC().Format(time.RFC3339)
	}
	if !u.Timestamp.IsZero() {
		a.PyPITimestamp = u.Timestamp.UTC().Format(time.RFC3339)
	}
	return a
}

// externalParams is buildDefinition.externalParameters: everything the
// person starting the build chose. See docs/buildtype.md.
type externalParams struct {
	Name            string        `json:"name"`
	Version         string        `json:"version"`
	Repository      string        `json:"repository"`
	Platforms       []string      `json:"platforms"`
	User            *userParams   `json:"user,omitempty"`
	Entrypoint      []string      `json:"entrypoint,omitempty"`
	Source          *sourceParams `json:"source,omitempty"`
	SourceDateEpoch int64         `json:"sourceDateEpoch"`
	LockDigest      string        `json:"lockDigest"`
	BaseImage       string        `json:"baseImage"`
	// The rest is what a rebuild needs beyond the above; each is left
	// out when unset.
	Cmd          []string          `json:"cmd,omitempty"`
	Env          map[string]string `json:"env,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Python       *pythonOverrides  `json:"python,omitempty"`
	Requirements []string          `json:"requirements,omitempty"`
	// Layers is the layer format (compression, wheel layers; the wheel
	// settings come from harden.yaml's build section). Absent: format 1.
	Layers *buildrecord.Layering `json:"layers,omitempty"`
}

type userParams struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Home string `json:"home,omitempty"`
}

// pythonOverrides are harden.yaml's python settings, which replace what
// harden would detect in the base.
type pythonOverrides struct {
	Interpreter  string `json:"interpreter,omitempty"`
	SitePackages string `json:"sitePackages,omitempty"`
	Scripts      string `json:"scripts,omitempty"`
}

type sourceParams struct {
	URL      string `json:"url,omitempty"`
	Revision string `json:"revision,omitempty"`
}

// externalParameters takes what the record holds from the record (what
// was actually built) and only the runtime settings from the config.
func externalParameters(rec *buildrecord.Record, c *config.Config, repo string) externalParams {
	ep := externalParams{
		Name:            rec.Name,
		Version:         rec.Version,
		Repository:      repo,
		SourceDateEpoch: rec.SourceDateEpoch,
		LockDigest:      rec.Lock.Digest,
		BaseImage:       rec.Base.Name + "@" + rec.Base.Digest,
		Requirements:    rec.Requirements,
		Layers:          rec.Layering,
	}
	for _, pl := range rec.Platforms {
		ep.Platforms = append(ep.Platforms, pl.Platform)
	}
	if rec.Source.URL != "" || rec.Source.Revision != "" {
		ep.Source = &sourceParams{URL: redactURL(rec.Source.URL), Revision: rec.Source.Revision}
	}
	if c != nil {
		ep.User = &userParams{Name: c.User.Name, UID: c.User.UID, GID: c.User.GID, Home: c.User.Home}
		ep.Entrypoint = c.Entrypoint
		ep.Cmd, ep.WorkingDir = c.Cmd, c.WorkingDir
		if len(c.Env) > 0 {
			ep.Env = c.Env
		}
		if len(c.Labels) > 0 {
			ep.Labels = c.Labels
		}
		if py := (pythonOverrides{Interpreter: c.Python.Interpreter, SitePackages: c.Python.SitePackages, Scripts: c.Python.Scripts}); py != (pythonOverrides{}) {
			ep.Python = &py
		}
	}
	return ep
}

type pythonParams struct {
	Interpreter string `json:"interpreter"`
	Version     string `json:"version"`
}

// internalParameters are the builder's host facts plus the interpreter
// harden found in the base for each platform.
func internalParameters(rec *buildrecord.Record, b Builder) map[string]any {
	m := make(map[string]any, len(b.Internal)+1)
	for k, v := range b.Internal {
		m[k] = v
	}
	py := make(map[string]pythonParams, len(rec.Platforms))
	for _, pl := range rec.Platforms {
		py[pl.Platform] = pythonParams{Interpreter: pl.Python.Interpreter, Version: pl.Python.Version}
	}
	m["python"] = py
	return m
}

// sha256Set turns "sha256:<hex>" from the record field into a digest set.
func sha256Set(digest, field string) (map[string]string, error) {
	hexPart, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || !isHex(hexPart, 64) {
		return nil, errs.Input(fmt.Errorf("provenance: build record %s is %q, not a sha256 digest; rebuild with this harden", field, digest))
	}
	return map[string]string{string(intoto.AlgorithmSHA256): hexPart}, nil
}

// redactURL drops credentials from an http(s) URL; other strings (such
// as scp-like git remotes and file paths) are returned unchanged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		return raw
	}
	u.User = nil
	return u.String()
}

// toStruct converts a JSON-encodable value to a protobuf Struct.
func toStruct(v any) (*structpb.Struct, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonToStruct(b)
}

// messageToStruct converts a protobuf message to a Struct with its JSON
// field names, the form a statement's predicate takes.
func messageToStruct(m proto.Message) (*structpb.Struct, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	return jsonToStruct(b)
}

func jsonToStruct(b []byte) (*structpb.Struct, error) {
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		return nil, err
	}
	return s, nil
}

// invocationID derives a stable "urn:uuid:" (an RFC 9562 version 5 UUID)
// from the index digest and start time, so re-attesting one build gives
// the same statement while two builds of the same image do not collide.
func invocationID(indexDigest string, started time.Time) string {
	ns := uuidV5(urlNamespace(), []byte(BuildType))
	u := uuidV5(ns, []byte(indexDigest+"\n"+started.UTC().Format(time.RFC3339Nano)))
	h := hex.EncodeToString(u[:])
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// urlNamespace is the RFC 9562 namespace for URL names,
// 6ba7b811-9dad-11d1-80b4-00c04fd430c8.
func urlNamespace() [16]byte {
	return [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
}

// uuidV5 is the name-based SHA-1 UUID of name in namespace ns.
func uuidV5(ns [16]byte, name []byte) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u
}

// isHex reports whether s is n lowercase hex digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
