package sbom_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/sbom"
)

// fixtureSBOM builds the fixture image and catalogues its first platform.
func fixtureSBOM(t *testing.T) (*buildtest.Result, buildrecord.PlatformRecord, sbom.Options, *sbom.SBOM) {
	t.Helper()
	r := buildtest.Build(t, buildtest.Options{})
	pl := r.Record.Platforms[0]
	o := sbom.Options{
		Epoch:       time.Unix(r.Record.SourceDateEpoch, 0),
		ToolName:    "harden",
		ToolVersion: "v0.0.0-test",
		Name:        r.Repo.String(),
	}
	start := time.Now()
	s, err := sbom.Generate(t.Context(), r.Image(t, pl.Platform), pl.Platform, pl.Digest, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sbom.Generate %s: %s, %d packages", pl.Platform, time.Since(start).Round(time.Millisecond), len(s.Packages))
	return r, pl, o, s
}

func TestFixtureImage(t *testing.T) {
	r, pl, o, first := fixtureSBOM(t)
	ctx := t.Context()

	byType := map[string]int{}
	for _, p := range first.Packages {
		byType[p.Type]++
	}
	t.Logf("packages by type: %v", byType)
	if byType["deb"] == 0 || byType[sbom.PythonType] < len(pl.Wheels) {
		t.Errorf("expected Debian packages and at least the %d wheels as Python packages, got %v", len(pl.Wheels), byType)
	}
	if !slices.IsSortedFunc(first.Packages, func(a, b sbom.Package) int {
		return strings.Compare(a.Type+"\x00"+a.Name+"\x00"+a.Version, b.Type+"\x00"+b.Name+"\x00"+b.Version)
	}) {
		t.Error("packages are not sorted by type, name, version")
	}

	spdxDoc, err := first.Encode(sbom.SPDXJSON)
	if err != nil {
		t.Fatal(err)
	}
	cdxDoc, err := first.Encode(sbom.CycloneDXJSON)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SPDX %d bytes, CycloneDX %d bytes", len(spdxDoc), len(cdxDoc))

	t.Run("schemas", func(t *testing.T) {
		syftDir := sbom.ModuleDir(t, "github.com/anchore/syft")
		cdxDir := sbom.ModuleDir(t, "github.com/CycloneDX/cyclonedx-go")
		validate(t, spdxDoc, filepath.Join(syftDir, "schema", "spdx-json", "spdx-schema-2.3.json"))
		validate(t, cdxDoc, filepath.Join(cdxDir, "schema", "bom-1.6.schema.json"),
			filepath.Join(cdxDir, "schema", "spdx.schema.json"),
			filepath.Join(cdxDir, "schema", "jsf-0.82.schemax.json"))

		spdx := decode(t, spdxDoc)
		if spdx["spdxVersion"] != "SPDX-2.3" {
			t.Errorf("spdxVersion %v, want SPDX-2.3", spdx["spdxVersion"])
		}
		creators := fmt.Sprint(spdx["creationInfo"].(map[string]any)["creators"])
		if !strings.Contains(creators, "Tool: harden-v0.0.0-test") {
			t.Errorf("SPDX creators %s lack harden", creators)
		}
		cdx := decode(t, cdxDoc)
		if cdx["specVersion"] != "1.6" {
			t.Errorf("specVersion %v, want 1.6", cdx["specVersion"])
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		// A second, independent run; with TMPDIR pointing at an empty
		// directory it also shows sbom.Generate leaves nothing behind.
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		second, err := sbom.Generate(ctx, r.Image(t, pl.Platform), pl.Platform, pl.Digest, o)
		if err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("sbom.Generate left %d entries in TMPDIR, e.g. %s", len(left), left[0].Name())
		}
		for _, f := range sbom.Formats() {
			a, _ := first.Encode(f)
			b, err := second.Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs between runs at byte %d", f, firstDiff(a, b))
			}
			if again, _ := first.Encode(f); !bytes.Equal(a, again) {
				t.Errorf("%s differs between two encodings of one sbom.SBOM", f)
			}
		}

		epoch := time.Unix(r.Record.SourceDateEpoch, 0).UTC().Format(time.RFC3339)
		spdx, cdx := decode(t, spdxDoc), decode(t, cdxDoc)
		if got := spdx["creationInfo"].(map[string]any)["created"]; got != epoch {
			t.Errorf("SPDX created %v, want the epoch %s", got, epoch)
		}
		if got := cdx["metadata"].(map[string]any)["timestamp"]; got != epoch {
			t.Errorf("CycloneDX timestamp %v, want the epoch %s", got, epoch)
		}
		ns, serial := spdx["documentNamespace"].(string), cdx["serialNumber"].(string)
		hex := strings.TrimPrefix(pl.Digest, "sha256:")
		if !strings.HasSuffix(ns, "/"+hex) || !strings.Contains(ns, r.Repo.String()) {
			t.Errorf("namespace %s is not derived from the image name and digest", ns)
		}
		if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(serial) {
			t.Errorf("serial %s is not a version 5 UUID URN", serial)
		}

		// Another digest gives other identifiers, and nothing else moves.
		other := *first
		other.Digest = "sha256:" + strings.Repeat("ab", 32)
		oSPDX, oCDX := decode(t, mustEncode(t, &other, sbom.SPDXJSON)), decode(t, mustEncode(t, &other, sbom.CycloneDXJSON))
		if oSPDX["documentNamespace"] == ns || !strings.HasSuffix(oSPDX["documentNamespace"].(string), strings.Repeat("ab", 32)) {
			t.Errorf("namespace did not follow the digest: %v", oSPDX["documentNamespace"])
		}
		if oCDX["serialNumber"] == serial {
			t.Errorf("serial number did not change with the digest: %v", serial)
		}
	})

	t.Run("lock", func(t *testing.T) {
		if err := sbom.CheckLock(first, pl.Wheels, pl.AppLayers); err != nil {
			t.Fatal(err)
		}
		for _, w := range pl.Wheels {
			i := slices.IndexFunc(first.Packages, func(p sbom.Package) bool {
				return p.Type == sbom.PythonType && normalized(p.Name) == w.Name && p.Version == w.Version &&
					slices.ContainsFunc(p.Layers, func(l string) bool { return slices.Contains(pl.AppLayers, l) })
			})
			if i < 0 {
				t.Errorf("wheel %s %s is not in the sbom.SBOM as a Python package in an app layer", w.Name, w.Version)
			}
		}
	})

	t.Run("drift", func(t *testing.T) {
		wheels := slices.Clone(pl.Wheels)
		changed := wheels[0]
		wheels[0].Version = "99.0"
		removed := wheels[1]
		wheels = slices.Delete(wheels, 1, 2)
		wheels = append(wheels, buildrecord.WheelRecord{Name: "not-installed", Version: "1.0"})

		err := sbom.CheckLock(first, wheels, pl.AppLayers)
		var d *sbom.DriftError
		if !errors.As(err, &d) {
			t.Fatalf("got %v, want a *sbom.DriftError", err)
		}
		wantMismatched := fmt.Sprintf("%s: lock 99.0, sbom %s", changed.Name, changed.Version)
		wantUnexpected := removed.Name + " " + removed.Version
		if !slices.Equal(d.Mismatched, []string{wantMismatched}) {
			t.Errorf("mismatched %q, want %q", d.Mismatched, wantMismatched)
		}
		if !slices.Equal(d.Unexpected, []string{wantUnexpected}) {
			t.Errorf("unexpected %q, want %q", d.Unexpected, wantUnexpected)
		}
		if !slices.Equal(d.Missing, []string{"not-installed 1.0"}) {
			t.Errorf("missing %q, want not-installed 1.0", d.Missing)
		}
		t.Logf("drift error:\n%v", err)
	})

	t.Run("for the index", func(t *testing.T) {
		sboms, err := sbom.ForIndex(ctx, r.Index, r.Record, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(sboms) != len(r.Record.Platforms) {
			t.Fatalf("%d SBOMs for %d platforms", len(sboms), len(r.Record.Platforms))
		}
		docs, err := sbom.Documents(sboms)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, d := range docs {
			got = append(got, d.Platform+" "+string(d.Format))
		}
		for _, p := range r.Record.Platforms {
			want = append(want, p.Platform+" "+string(sbom.SPDXJSON), p.Platform+" "+string(sbom.CycloneDXJSON))
		}
		if !slices.Equal(got, want) {
			t.Errorf("documents %q, want %q", got, want)
		}
		if !bytes.Equal(docs[0].Bytes, spdxDoc) {
			t.Errorf("ForIndex's SPDX document differs from Generate's")
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	r := buildtest.Build(b, buildtest.Options{})
	pl := r.Record.Platforms[0]
	img := r.Image(b, pl.Platform)
	o := sbom.Options{Epoch: time.Unix(r.Record.SourceDateEpoch, 0), Name: r.Repo.String()}
	for b.Loop() {
		if _, err := sbom.Generate(b.Context(), img, pl.Platform, pl.Digest, o); err != nil {
			b.Fatal(err)
		}
	}
}

func mustEncode(t *testing.T, s *sbom.SBOM, f sbom.Format) []byte {
	t.Helper()
	b, err := s.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func normalized(name string) string {
	return strings.ToLower(regexp.MustCompile(`[-_.]+`).ReplaceAllString(name, "-"))
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// offline refuses every URL: all schemas must be registered up front.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not registered; refusing to fetch it", url)
}

// validate checks doc against the schema in files[0]; the other files
// are schemas it references. Each is registered under its $id.
func validate(t *testing.T, doc []byte, files ...string) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	c.AssertFormat()
	var main string
	for i, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := jsonschema.UnmarshalJSON(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := s.(map[string]any)["$id"].(string)
		if id == "" {
			t.Fatalf("%s has no $id", f)
		}
		if err := c.AddResource(id, s); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			main = id
		}
	}
	sch, err := c.Compile(main)
	if err != nil {
		t.Fatalf("compile %s: %v", main, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("document does not validate against %s:\n%v", main, err)
	}
}
