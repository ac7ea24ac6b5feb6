package provenance

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
)

// Inputs is what a harden provenance says went into a build: enough to
// run the same build again. It is the inverse of Statement.
type Inputs struct {
	// Config holds the build settings of harden.yaml as recorded; fields
	// a build does not use (smoke tests, index, storage) are empty.
	Config       *config.Config
	Epoch        time.Time
	LockPath     string // as recorded, relative to harden.yaml
	LockDigest   string // sha256:<hex>
	Requirements []string
	Wheels       []Wheel
	// Layering is the layer format to replay.
	Layering buildrecord.Layering
	// Subjects maps "" to the index digest and each platform to its
	// manifest digest, as the statement names them.
	Subjects map[string]string
}

// Wheel is one wheel file the build installed.
type Wheel struct {
	Name      string   // normalised project name
	Version   string   //
	Filename  string   //
	SHA256    string   // lowercase hex
	URI       string   // where the builder fetched it
	Platforms []string // that installed this file
	// Upstream is the file's PyPI (PEP 740) provenance as the lock
	// recorded it for the build (the pypi* annotations); nil when the
	// build recorded none.
	Upstream *lock.FileProvenance
	// Index is the simple index the build took the file from (pypiIndex,
	// without credentials); "" when not recorded.
	Index string
}

// ForPlatform lists the wheels installed on platform p.
func (in *Inputs) ForPlatform(p string) []Wheel {
	var out []Wheel
	for _, w := range in.Wheels {
		if slices.Contains(w.Platforms, p) {
			out = append(out, w)
		}
	}
	return out
}

// ReadInputs takes the build inputs out of a parsed statement. It refuses
// provenance of another build type, and provenance that leaves out
// something a rebuild needs, naming the field.
func ReadInputs(st *intoto.Statement, prov *slsa.Provenance) (*Inputs, error) {
	bd := prov.GetBuildDefinition()
	if bt := bd.GetBuildType(); bt != BuildType {
		return nil, errs.Input(fmt.Errorf("provenance build type is %q; only harden's own build (%s) can be replayed", bt, BuildType))
	}
	raw, err := protojson.Marshal(bd.GetExternalParameters())
	if err != nil {
		return nil, fmt.Errorf("read provenance: re-encode externalParameters: %w", err)
	}
	var ep externalParams
	if err := json.Unmarshal(raw, &ep); err != nil {
		return nil, errs.Input(fmt.Errorf("read provenance: externalParameters do not match %s: %w", BuildType, err))
	}
	var missing []string
	need := func(ok bool, field string) {
		if !ok {
			missing = append(missing, field)
		}
	}
	need(ep.Name != "", "name")
	need(ep.Repository != "", "repository")
	need(len(ep.Platforms) > 0, "platforms")
	need(ep.User != nil, "user")
	need(ep.SourceDateEpoch > 0, "sourceDateEpoch")
	need(strings.HasPrefix(ep.LockDigest, "sha256:"), "lockDigest")
	need(strings.Contains(ep.BaseImage, "@sha256:"), "baseImage (pinned by digest)")
	if len(missing) > 0 {
		return nil, errs.Input(fmt.Errorf("the provenance lacks externalParameters %s, which a rebuild needs; it was not written by harden build, or by one too old to be replayed", strings.Join(missing, ", ")))
	}
	c := &config.Config{
		Name: ep.Name, Version: ep.Version, Repository: ep.Repository, Base: ep.BaseImage,
		Platforms: ep.Platforms, Entrypoint: ep.Entrypoint, Cmd: ep.Cmd, Env: ep.Env,
		WorkingDir: ep.WorkingDir, Labels: ep.Labels,
		User: config.User{Name: ep.User.Name, UID: ep.User.UID, GID: ep.User.GID, Home: ep.User.Home},
	}
	if _, err := c.BaseRef(); err != nil {
		return nil, errs.Input(fmt.Errorf("the provenance's baseImage cannot be pulled by digest: %w", err))
	}
	if ep.Source != nil {
		c.Source = config.Source{URL: ep.Source.URL, Revision: ep.Source.Revision}
	}
	if ep.Python != nil {
		c.Python = config.Python{Interpreter: ep.Python.Interpreter, SitePackages: ep.Python.SitePackages, Scripts: ep.Python.Scripts}
	}
	in := &Inputs{
		Config: c, Epoch: time.Unix(ep.SourceDateEpoch, 0).UTC(), LockDigest: ep.LockDigest,
		Requirements: ep.Requirements, Subjects: map[string]string{}, Layering: buildrecord.FirstLayering(),
	}
	if ep.Layers != nil {
		if err := ep.Layers.Check(); err != nil {
			return nil, errs.Input(fmt.Errorf("the provenance's layers cannot be replayed: %w", err))
		}
		in.Layering = *ep.Layers
	}
	if err := in.readDependencies(bd.GetResolvedDependencies()); err != nil {
		return nil, err
	}
	if err := in.readSubjects(st); err != nil {
		return nil, err
	}
	return in, nil
}

func (in *Inputs) readDependencies(deps []*intoto.ResourceDescriptor) error {
	lockHex := strings.TrimPrefix(in.LockDigest, "sha256:")
	var problems []string
	for i, d := range deps {
		sum := strings.ToLower(d.GetDigest()[string(intoto.AlgorithmSHA256)])
		ann := d.GetAnnotations().AsMap()
		filename, _ := ann["filename"].(string)
		switch {
		case d.GetName() == baseImageDep:
			// The base comes from externalParameters.baseImage.
		case sum == lockHex && in.LockPath == "":
			in.LockPath = d.GetUri()
		case strings.HasSuffix(filename, ".whl"):
			version, _ := ann["version"].(string)
			var plats []string
			if ps, ok := ann["platforms"].([]any); ok {
				for _, p := range ps {
					if s, ok := p.(string); ok {
						plats = append(plats, s)
					}
				}
			}
			if !isHex(sum, 64) || d.GetName() == "" || version == "" || len(plats) == 0 || !subset(plats, in.Config.Platforms) {
				problems = append(problems, fmt.Sprintf("resolvedDependencies[%d] (%s) lacks a sha256, name or version, or names no platform or one not built", i, filename))
				continue
			}
			up, err := upstreamOf(ann, filename, sum)
			if err != nil {
				problems = append(problems, fmt.Sprintf("resolvedDependencies[%d] (%s): %v", i, filename, err))
				continue
			}
			index, _ := ann["pypiIndex"].(string)
			in.Wheels = append(in.Wheels, Wheel{Name: d.GetName(), Version: version, Filename: filename, SHA256: sum, URI: d.GetUri(), Platforms: plats, Upstream: up, Index: index})
		}
	}
	if in.LockPath == "" {
		problems = append(problems, "no resolvedDependencies entry has the lock digest "+in.LockDigest)
	}
	if len(in.Wheels) == 0 {
		problems = append(problems, "no wheels in resolvedDependencies")
	}
	if len(problems) > 0 {
		return errs.Input(errors.New("the provenance cannot be replayed: " + strings.Join(problems, "; ")))
	}
	return nil
}

func (in *Inputs) readSubjects(st *intoto.Statement) error {
	for _, s := range st.GetSubject() {
		d := s.GetDigest()[string(intoto.AlgorithmSHA256)]
		if d == "" {
			continue
		}
		p, _ := s.GetAnnotations().AsMap()["platform"].(string)
		if _, dup := in.Subjects[p]; dup {
			return errs.Input(fmt.Errorf("the provenance names two subjects for %q", cmp.Or(p, "the index")))
		}
		in.Subjects[p] = "sha256:" + strings.ToLower(d)
	}
	if in.Subjects[""] == "" {
		return errs.Input(errors.New("the provenance has no index subject (a subject without a platform annotation)"))
	}
	return nil
}

func subset(a, of []string) bool {
	for _, x := range a {
		if !slices.Contains(of, x) {
			return false
		}
	}
	return true
}

// upstreamOf reads the pypi* annotations of a wheel (newWheelAnnotations).
func upstreamOf(ann map[string]any, filename, sum string) (*lock.FileProvenance, error) {
	raw, ok := ann["pypiAttested"]
	if !ok {
		return nil, nil
	}
	attested, ok := raw.(bool)
	if !ok {
		return nil, errors.New("pypiAttested is not a boolean")
	}
	fp := &lock.FileProvenance{Filename: filename, SHA256: sum, Attested: attested}
	if !attested {
		return fp, nil
	}
	b, err := json.Marshal(ann["pypiPublisher"])
	if err == nil {
		err = json.Unmarshal(b, &fp.Publisher)
	}
	if err != nil || fp.Publisher.Kind == "" {
		return nil, errors.New("pypiAttested without a pypiPublisher")
	}
	if n, ok := ann["pypiAttestationLogIndex"].(float64); ok {
		fp.LogIndex = int64(n)
	}
	return fp, nil
}
