package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/pyenv"
)

// hexOf is a stable fake sha256 for test inputs.
func hexOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func dg(s string) string { return "sha256:" + hexOf(s) }

const testCommit = "0123456789abcdef0123456789abcdef01234567"

func wheelRec(name, version, filename string) buildrecord.WheelRecord {
	return buildrecord.WheelRecord{Name: name, Version: version, Filename: filename, SHA256: hexOf(filename),
		URL: "https://files.example.test/packages/" + filename}
}

// clickUpstream is the lock's record of the click wheel: attested by a
// GitHub workflow. wcwidth's record says the index had no attestation;
// pgcli and psycopg-binary have none.
var clickUpstream = buildrecord.Upstream{Attested: true,
	Publisher: lock.Publisher{Kind: lock.PublisherGitHub, Repository: "pallets/click", Workflow: "publish.yaml", Environment: "pypi"},
	LogIndex:  148853227, IntegratedTime: time.Date(2024, 11, 15, 8, 9, 10, 0, time.UTC),
	Index: "https://harden:s3cret@pypi.example/simple/"}

// testRecord is a two-platform build: pgcli, click and wcwidth are the
// same files on both platforms, psycopg-binary differs per platform.
func testRecord() *buildrecord.Record {
	click := wheelRec("click", "8.1.7", "click-8.1.7-py3-none-any.whl")
	cu := clickUpstream
	click.Upstream = &cu
	wcwidth := wheelRec("wcwidth", "0.2.13", "wcwidth-0.2.13-py2.py3-none-any.whl")
	wcwidth.Upstream = &buildrecord.Upstream{}
	shared := []buildrecord.WheelRecord{
		wcwidth,
		wheelRec("pgcli", "4.3.0", "pgcli-4.3.0-py3-none-any.whl"),
		click,
	}
	amd := append([]buildrecord.WheelRecord{wheelRec("psycopg-binary", "3.2.3", "psycopg_binary-3.2.3-cp312-cp312-manylinux_2_17_x86_64.whl")}, shared...)
	arm := append([]buildrecord.WheelRecord{wheelRec("psycopg-binary", "3.2.3", "psycopg_binary-3.2.3-cp312-cp312-manylinux_2_17_aarch64.whl")}, shared...)
	started := time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	return &buildrecord.Record{
		SchemaVersion: buildrecord.Schema,
		Name:          "pgcli",
		Version:       "4.3.0-r1",
		Digest:        dg("index"),
		Platforms: []buildrecord.PlatformRecord{
			{Platform: "linux/amd64", Digest: dg("amd64"), BaseDigest: dg("base-amd64"),
				Python: pyenv.Env{Interpreter: "/usr/local/bin/python3.12", Version: "3.12.7"}, Wheels: amd},
			{Platform: "linux/arm64", Digest: dg("arm64"), BaseDigest: dg("base-arm64"),
				Python: pyenv.Env{Interpreter: "/usr/local/bin/python3.12", Version: "3.12.7"}, Wheels: arm},
		},
		Base: buildrecord.BaseRecord{Name: "python:3.12-slim", Digest: dg("base-index"),
			Ref: "index.docker.io/library/python@" + dg("base-index")},
		Lock:            buildrecord.LockRecord{Path: "requirements.lock", Digest: dg("lock")},
		Source:          buildrecord.SourceRecord{URL: "https://github.com/org/pgcli-container", Revision: testCommit},
		SourceDateEpoch: 1700000000,
		Requirements:    []string{"pgcli"},
		StartedOn:       started,
		FinishedOn:      started.Add(95 * time.Second),
	}
}

func testConfig() *config.Config {
	return &config.Config{
		Name: "pgcli", Version: "4.3.0-r1", Repository: "ghcr.io/org/pgcli",
		User:       config.User{Name: "pgcli", UID: 10001, GID: 10001, Home: "/home/pgcli"},
		Entrypoint: []string{"pgcli"},
		Env:        map[string]string{"LANG": "C.UTF-8"},
	}
}

// testBuilder is fixed, unlike DetectBuilder's, so output is the same on
// every host.
func testBuilder() Builder {
	return Builder{
		ID:       LocalBuilderID,
		Version:  map[string]string{"harden": "v0.3.0"},
		Internal: map[string]any{"ci": false, "goos": "linux", "goarch": "amd64", "goVersion": "go1.26.8"},
	}
}

func testParams() Params {
	return Params{Record: testRecord(), Config: testConfig(), Repository: "ghcr.io/org/pgcli", Builder: testBuilder()}
}

func mustStatement(t *testing.T, p Params) (*intoto.Statement, *slsa.Provenance) {
	t.Helper()
	st, err := Statement(p)
	if err != nil {
		t.Fatal(err)
	}
	return st, predicate(t, st)
}

func predicate(t *testing.T, st *intoto.Statement) *slsa.Provenance {
	t.Helper()
	b, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		t.Fatal(err)
	}
	prov := &slsa.Provenance{}
	if err := protojson.Unmarshal(b, prov); err != nil {
		t.Fatalf("the predicate does not decode strictly as SLSA v1 provenance: %v", err)
	}
	return prov
}

// rd is a ResourceDescriptor in plain Go values, for comparisons.
type rd struct {
	Name, URI   string
	Digest      map[string]string
	Annotations map[string]any
}

func plain(rds []*intoto.ResourceDescriptor) []rd {
	out := make([]rd, 0, len(rds))
	for _, r := range rds {
		var ann map[string]any
		if r.GetAnnotations() != nil {
			ann = r.GetAnnotations().AsMap()
		}
		out = append(out, rd{Name: r.GetName(), URI: r.GetUri(), Digest: r.GetDigest(), Annotations: ann})
	}
	return out
}

func sha(s string) map[string]string { return map[string]string{"sha256": hexOf(s)} }

func TestStatementSubjects(t *testing.T) {
	st, _ := mustStatement(t, testParams())
	if st.GetType() != "https://in-toto.io/Statement/v1" || st.GetPredicateType() != PredicateType {
		t.Errorf("_type %q predicateType %q", st.GetType(), st.GetPredicateType())
	}
	want := []rd{
		{Name: "ghcr.io/org/pgcli", Digest: sha("index")},
		{Name: "ghcr.io/org/pgcli", Digest: sha("amd64"), Annotations: map[string]any{"platform": "linux/amd64"}},
		{Name: "ghcr.io/org/pgcli", Digest: sha("arm64"), Annotations: map[string]any{"platform": "linux/arm64"}},
	}
	if got := plain(st.GetSubject()); !reflect.DeepEqual(got, want) {
		t.Errorf("subjects:\n got %+v\nwant %+v", got, want)
	}
}

func TestStatementResolvedDependencies(t *testing.T) {
	_, prov := mustStatement(t, testParams())
	wheel := func(name, version, filename string, platforms ...any) rd {
		return rd{Name: name, URI: "https://files.example.test/packages/" + filename, Digest: sha(filename),
			Annotations: map[string]any{"version": version, "filename": filename, "platforms": platforms}}
	}
	// The lock's upstream records become annotations (docs/buildtype.md).
	click := wheel("click", "8.1.7", "click-8.1.7-py3-none-any.whl", "linux/amd64", "linux/arm64")
	click.Annotations["pypiAttested"] = true
	click.Annotations["pypiPublisher"] = map[string]any{"kind": "GitHub", "repository": "pallets/click", "workflow": "publish.yaml", "environment": "pypi"}
	click.Annotations["pypiAttestationLogIndex"] = float64(148853227)
	click.Annotations["pypiAttestationIntegratedTime"] = "2024-11-15T08:09:10Z"
	click.Annotations["pypiIndex"] = "https://pypi.example/simple/"
	wcwidth := wheel("wcwidth", "0.2.13", "wcwidth-0.2.13-py2.py3-none-any.whl", "linux/amd64", "linux/arm64")
	wcwidth.Annotations["pypiAttested"] = false
	want := []rd{
		{Name: "base-image", URI: "index.docker.io/library/python@" + dg("base-index"), Digest: sha("base-index")},
		{Name: "base-image", URI: "index.docker.io/library/python@" + dg("base-amd64"), Digest: sha("base-amd64"),
			Annotations: map[string]any{"platform": "linux/amd64"}},
		{Name: "base-image", URI: "index.docker.io/library/python@" + dg("base-arm64"), Digest: sha("base-arm64"),
			Annotations: map[string]any{"platform": "linux/arm64"}},
		{Name: "requirements.lock", URI: "requirements.lock", Digest: sha("lock")},
		{URI: "git+https://github.com/org/pgcli-container@" + testCommit, Digest: map[string]string{"gitCommit": testCommit}},
		// Sorted by name then filename; shared files appear once.
		click,
		wheel("pgcli", "4.3.0", "pgcli-4.3.0-py3-none-any.whl", "linux/amd64", "linux/arm64"),
		wheel("psycopg-binary", "3.2.3", "psycopg_binary-3.2.3-cp312-cp312-manylinux_2_17_aarch64.whl", "linux/arm64"),
		wheel("psycopg-binary", "3.2.3", "psycopg_binary-3.2.3-cp312-cp312-manylinux_2_17_x86_64.whl", "linux/amd64"),
		wcwidth,
	}
	got := plain(prov.GetBuildDefinition().GetResolvedDependencies())
	if len(got) != len(want) {
		t.Fatalf("%d resolvedDependencies, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("resolvedDependencies[%d]:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestStatementSource(t *testing.T) {
	tests := []struct {
		name   string
		source buildrecord.SourceRecord
		want   *rd // nil = no source entry
	}{
		{name: "commit", source: buildrecord.SourceRecord{URL: "https://example.test/r.git", Revision: strings.ToUpper(testCommit)},
			want: &rd{URI: "git+https://example.test/r.git@" + strings.ToUpper(testCommit), Digest: map[string]string{"gitCommit": testCommit}}},
		{name: "branch is not a digest", source: buildrecord.SourceRecord{URL: "https://example.test/r.git", Revision: "main"},
			want: &rd{URI: "git+https://example.test/r.git@main"}},
		{name: "short commit is not a digest", source: buildrecord.SourceRecord{URL: "https://example.test/r.git", Revision: testCommit[:12]},
			want: &rd{URI: "git+https://example.test/r.git@" + testCommit[:12]}},
		{name: "no revision", source: buildrecord.SourceRecord{URL: "https://example.test/r.git"},
			want: &rd{URI: "git+https://example.test/r.git"}},
		{name: "already git+", source: buildrecord.SourceRecord{URL: "git+ssh://git@example.test/r.git", Revision: testCommit},
			want: &rd{URI: "git+ssh://example.test/r.git@" + testCommit, Digest: map[string]string{"gitCommit": testCommit}}},
		{name: "credentials dropped", source: buildrecord.SourceRecord{URL: "https://ci:hunter2@example.test/r.git", Revision: testCommit},
			want: &rd{URI: "git+https://example.test/r.git@" + testCommit, Digest: map[string]string{"gitCommit": testCommit}}},
		{name: "no source", source: buildrecord.SourceRecord{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			p.Record.Source = tt.source
			_, prov := mustStatement(t, p)
			var found []rd
			for _, d := range plain(prov.GetBuildDefinition().GetResolvedDependencies()) {
				if strings.HasPrefix(d.URI, "git+") {
					found = append(found, d)
				}
			}
			switch {
			case tt.want == nil && len(found) != 0:
				t.Errorf("unexpected source entry %+v", found)
			case tt.want != nil && (len(found) != 1 || !reflect.DeepEqual(found[0], *tt.want)):
				t.Errorf("source entries %+v, want %+v", found, *tt.want)
			}
			if strings.Contains(protojson.Format(prov), "hunter2") {
				t.Error("the source URL's password is in the provenance")
			}
		})
	}
}

func TestStatementParameters(t *testing.T) {
	_, prov := mustStatement(t, testParams())
	bd := prov.GetBuildDefinition()
	if bd.GetBuildType() != BuildType {
		t.Errorf("buildType %q", bd.GetBuildType())
	}
	wantExt := map[string]any{
		"name": "pgcli", "version": "4.3.0-r1", "repository": "ghcr.io/org/pgcli",
		"platforms":       []any{"linux/amd64", "linux/arm64"},
		"user":            map[string]any{"name": "pgcli", "uid": 10001.0, "gid": 10001.0, "home": "/home/pgcli"},
		"env":             map[string]any{"LANG": "C.UTF-8"},
		"requirements":    []any{"pgcli"},
		"entrypoint":      []any{"pgcli"},
		"source":          map[string]any{"url": "https://github.com/org/pgcli-container", "revision": testCommit},
		"sourceDateEpoch": 1700000000.0,
		"lockDigest":      dg("lock"),
		"baseImage":       "python:3.12-slim@" + dg("base-index"),
	}
	if got := bd.GetExternalParameters().AsMap(); !reflect.DeepEqual(got, wantExt) {
		t.Errorf("externalParameters:\n got %#v\nwant %#v", got, wantExt)
	}
	py := map[string]any{"interpreter": "/usr/local/bin/python3.12", "version": "3.12.7"}
	wantInt := map[string]any{
		"ci": false, "goos": "linux", "goarch": "amd64", "goVersion": "go1.26.8",
		"python": map[string]any{"linux/amd64": py, "linux/arm64": py},
	}
	if got := bd.GetInternalParameters().AsMap(); !reflect.DeepEqual(got, wantInt) {
		t.Errorf("internalParameters:\n got %#v\nwant %#v", got, wantInt)
	}
}

func TestStatementWithoutConfig(t *testing.T) {
	p := testParams()
	p.Config = nil
	_, prov := mustStatement(t, p)
	ext := prov.GetBuildDefinition().GetExternalParameters().AsMap()
	for _, k := range []string{"user", "entrypoint"} {
		if _, ok := ext[k]; ok {
			t.Errorf("externalParameters.%s is set without a config: %v", k, ext[k])
		}
	}
	if ext["repository"] != "ghcr.io/org/pgcli" || ext["name"] != "pgcli" {
		t.Errorf("externalParameters from the record: %v", ext)
	}

	// The repository defaults to the config's.
	p = testParams()
	p.Repository = ""
	p.Config.Repository = "registry.example.test/team/pgcli"
	st, _ := mustStatement(t, p)
	if n := st.GetSubject()[0].GetName(); n != "registry.example.test/team/pgcli" {
		t.Errorf("subject name %q, want the config's repository", n)
	}
}

func TestStatementRunDetails(t *testing.T) {
	_, prov := mustStatement(t, testParams())
	rd := prov.GetRunDetails()
	if rd.GetBuilder().GetId() != LocalBuilderID || rd.GetBuilder().GetVersion()["harden"] != "v0.3.0" {
		t.Errorf("builder %v", rd.GetBuilder())
	}
	md := rd.GetMetadata()
	rec := testRecord()
	if !md.GetStartedOn().AsTime().Equal(rec.StartedOn) || !md.GetFinishedOn().AsTime().Equal(rec.FinishedOn) {
		t.Errorf("times %v %v, want %v %v", md.GetStartedOn().AsTime(), md.GetFinishedOn().AsTime(), rec.StartedOn, rec.FinishedOn)
	}
}

func TestInvocationID(t *testing.T) {
	id := func(p Params) string {
		_, prov := mustStatement(t, p)
		return prov.GetRunDetails().GetMetadata().GetInvocationId()
	}
	first := id(testParams())
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(first) {
		t.Fatalf("invocationId %q is not a version 5 urn:uuid", first)
	}
	if again := id(testParams()); again != first {
		t.Errorf("re-attesting the same build gave invocationId %q, then %q", first, again)
	}
	p := testParams()
	p.Record.StartedOn = p.Record.StartedOn.Add(time.Millisecond)
	if other := id(p); other == first {
		t.Error("a build started at another time has the same invocationId")
	}
	p = testParams()
	p.Record.Digest = dg("another index")
	if other := id(p); other == first {
		t.Error("a build of another index has the same invocationId")
	}
	p = testParams()
	p.Builder.InvocationID = "https://github.com/org/repo/actions/runs/1/attempts/1"
	if got := id(p); got != p.Builder.InvocationID {
		t.Errorf("invocationId %q, want the CI's %q", got, p.Builder.InvocationID)
	}
}

func TestUUIDv5KnownAnswer(t *testing.T) {
	// RFC 9562 DNS namespace; uuid5(NAMESPACE_DNS, "python.org") is the
	// example in Python's uuid documentation.
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	u := uuidV5(dns, []byte("python.org"))
	if got := hex.EncodeToString(u[:]); got != "886313e13b8a53729b900c9aee199e5d" {
		t.Errorf("uuidV5 = %s", got)
	}
}

func TestMarshalDeterministic(t *testing.T) {
	a, _ := mustStatement(t, testParams())
	b, _ := mustStatement(t, testParams())
	ja, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	ja2, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ja, ja2) || !bytes.Equal(ja, jb) {
		t.Fatalf("Marshal is not deterministic:\n%s\n---\n%s", ja, jb)
	}
	// protojson randomly adds a space after some colons; normalised
	// output has exactly one space after every key.
	if bytes.Contains(ja, []byte(":  ")) || !bytes.HasSuffix(ja, []byte("}\n")) {
		t.Errorf("output is not normalised:\n%s", ja)
	}
	golden := filepath.Join("testdata", "statement.json")
	if os.Getenv("HARDEN_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, ja, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v; create it with HARDEN_UPDATE_GOLDEN=1 go test ./internal/provenance/", err)
	}
	if !bytes.Equal(ja, want) {
		t.Errorf("Marshal output differs from %s (rerun with HARDEN_UPDATE_GOLDEN=1 if the change is intended):\n%s", golden, ja)
	}
}

// TestJSONShape checks the field names other tools look for, which the
// protobuf field names (build_definition, …) must not leak into.
func TestJSONShape(t *testing.T) {
	st, _ := mustStatement(t, testParams())
	b, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var v any = doc
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s: %T is not an object at %q", path, v, k)
				return nil
			}
			if v, ok = m[k]; !ok {
				t.Errorf("%s: no key %q", path, k)
				return nil
			}
		}
		return v
	}
	want := map[string]any{
		"_type":                                                        "https://in-toto.io/Statement/v1",
		"predicateType":                                                "https://slsa.dev/provenance/v1",
		"predicate.buildDefinition.buildType":                          BuildType,
		"predicate.runDetails.builder.id":                              LocalBuilderID,
		"predicate.runDetails.builder.version":                         map[string]any{"harden": "v0.3.0"},
		"predicate.runDetails.metadata.startedOn":                      "2025-01-02T03:04:05.678Z",
		"predicate.runDetails.metadata.finishedOn":                     "2025-01-02T03:05:40.678Z",
		"predicate.buildDefinition.externalParameters.sourceDateEpoch": 1700000000.0,
	}
	for path, w := range want {
		if got := get(path); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
	for _, path := range []string{
		"subject",
		"predicate.buildDefinition.externalParameters",
		"predicate.buildDefinition.internalParameters",
		"predicate.buildDefinition.resolvedDependencies",
		"predicate.runDetails.metadata.invocationId",
	} {
		get(path)
	}
	for path, allowed := range map[string][]string{
		"predicate":                     {"buildDefinition", "runDetails"},
		"predicate.buildDefinition":     {"buildType", "externalParameters", "internalParameters", "resolvedDependencies"},
		"predicate.runDetails":          {"builder", "metadata"},
		"predicate.runDetails.metadata": {"invocationId", "startedOn", "finishedOn"},
	} {
		m, _ := get(path).(map[string]any)
		for k := range m {
			if !slices.Contains(allowed, k) {
				t.Errorf("%s has unexpected key %q", path, k)
			}
		}
	}
	for k := range doc {
		if !slices.Contains([]string{"_type", "subject", "predicateType", "predicate"}, k) {
			t.Errorf("the statement has unexpected key %q", k)
		}
	}
}

func TestStatementErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Params)
		want   string
	}{
		{"no record", func(p *Params) { p.Record = nil }, "no build record"},
		{"no build times", func(p *Params) { p.Record.StartedOn = time.Time{} }, "the build record has no build times; rebuild with this harden"},
		{"no finish time", func(p *Params) { p.Record.FinishedOn = time.Time{} }, "no build times"},
		{"finished before started", func(p *Params) { p.Record.FinishedOn = p.Record.StartedOn.Add(-time.Second) }, "before it started"},
		{"no repository", func(p *Params) { p.Repository = ""; p.Config.Repository = "" }, "no repository"},
		{"repository with tag", func(p *Params) { p.Repository = "ghcr.io/org/pgcli:latest" }, `repository "ghcr.io/org/pgcli:latest"`},
		{"no builder id", func(p *Params) { p.Builder.ID = "" }, "builder has no id"},
		{"config for another version", func(p *Params) { p.Config.Version = "4.3.0-r2" }, "harden.yaml is pgcli 4.3.0-r2 but the build record is pgcli 4.3.0-r1"},
		{"no platforms", func(p *Params) { p.Record.Platforms = nil }, "no platforms"},
		{"bad index digest", func(p *Params) { p.Record.Digest = "sha256:abc" }, `build record digest is "sha256:abc"`},
		{"bad platform digest", func(p *Params) { p.Record.Platforms[1].Digest = "" }, "platforms[1].digest"},
		{"bad base digest", func(p *Params) { p.Record.Base.Digest = "sha512:" + hexOf("x") }, "base.digest"},
		{"bad platform base digest", func(p *Params) { p.Record.Platforms[0].BaseDigest = "latest" }, "platforms[0].baseDigest"},
		{"no base ref", func(p *Params) { p.Record.Base.Ref = "" }, "base.ref"},
		{"bad lock digest", func(p *Params) { p.Record.Lock.Digest = hexOf("lock") }, "lock.digest"},
		{"bad wheel digest", func(p *Params) { p.Record.Platforms[0].Wheels[1].SHA256 = "xyz" }, "platforms[0].wheels[1]"},
		{"same file, different wheel", func(p *Params) {
			p.Record.Platforms[1].Wheels[1].Version = "0.2.14"
		}, "same sha256"},
		{"builder facts not JSON", func(p *Params) { p.Builder.Internal = map[string]any{"f": func() {}} }, "internalParameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			tt.change(&p)
			st, err := Statement(p)
			if err == nil {
				t.Fatalf("Statement succeeded: %v", st)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestStatementInputErrorsExitCode(t *testing.T) {
	p := testParams()
	p.Record.StartedOn = time.Time{}
	if _, err := Statement(p); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("exit code %d for a record without times, want %d", errs.ExitCode(err), errs.CodeInput)
	}
}

// TestNoSecretsInStatement fills the environment with every token a CI
// job may hold and checks none of them reaches the provenance.
func TestNoSecretsInStatement(t *testing.T) {
	const sentinel = "SENTINEL-SECRET-7f3a"
	secrets := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": sentinel + "-oidc",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   "https://token.example.test/?" + sentinel,
		"ACTIONS_RUNTIME_TOKEN":          sentinel + "-runtime",
		"GITHUB_TOKEN":                   sentinel + "-github",
		"CI_JOB_TOKEN":                   sentinel + "-job",
		"CI_REGISTRY_PASSWORD":           sentinel + "-registry",
		"CI_JOB_JWT_V2":                  sentinel + "-jwt",
		"HOSTNAME":                       sentinel + "-host",
		"USER":                           sentinel + "-user",
	}
	for name, env := range map[string]map[string]string{
		"github": githubEnv(),
		"gitlab": gitlabEnv(),
		"local":  {},
	} {
		t.Run(name, func(t *testing.T) {
			all := with(env)
			for k, v := range secrets {
				all[k] = v
			}
			b, err := DetectBuilder(lookup(all), "v0.3.0")
			if err != nil {
				t.Fatal(err)
			}
			p := testParams()
			p.Builder = b
			st, _ := mustStatement(t, p)
			out, err := Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(out, []byte("SENTINEL")) {
				t.Errorf("a secret from the environment is in the statement:\n%s", out)
			}
		})
	}
}
