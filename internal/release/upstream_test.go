package release

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/harden-dev/harden/internal/lock"
)

// release.json summarises the lock's upstream provenance records, valid
// against the schema.
func TestRecordUpstream(t *testing.T) {
	w := newWorld(t)
	pr := w.project(repoA)
	pub := lock.Publisher{Kind: lock.PublisherGitHub, Repository: "dbcli/pgcli", Workflow: "publish.yml"}
	pr.Lock.Requirements = []lock.Requirement{
		{Name: "pgcli", Key: "pgcli", Provenance: []lock.FileProvenance{{Filename: "pgcli.whl", Attested: true, Publisher: pub, LogIndex: 3}}},
		{Name: "sqlparse", Key: "sqlparse", Provenance: []lock.FileProvenance{{Filename: "sqlparse.whl"}}},
		{Name: "six", Key: "six"},
	}
	out := t.TempDir()
	if _, _, err := Run(context.Background(), w.options(pr, out)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, "release.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Upstream json.RawMessage `json:"upstream"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(rec.Upstream, &got); err != nil {
		t.Fatalf("release.json has no upstream: %v", err)
	}
	validateUpstream(t, got)
	gb, _ := json.Marshal(got)
	want := `{"attested":1,"pins":3,"publishers":[{"pins":["pgcli"],"publisher":{"kind":"GitHub","repository":"dbcli/pgcli","workflow":"publish.yml"}}],"unattested":["sqlparse"],"unrecorded":["six"]}`
	if string(gb) != want {
		t.Errorf("upstream:\n got %s\nwant %s", gb, want)
	}
}

// validateUpstream checks v against the schema of release.json's
// upstream (the fake world's records lack the rest of a valid record).
func validateUpstream(t *testing.T, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "release-record.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	sub, ok := s.Properties["upstream"]
	if !ok {
		t.Fatal("the schema has no upstream property")
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("upstream.json", sub); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("upstream.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("upstream does not validate against the schema: %v", err)
	}
	bad := map[string]any{"pins": 1, "attested": 0, "publishers": []any{map[string]any{"publisher": map[string]any{"kind": "Other"}, "pins": []any{}}},
		"unattested": []any{}, "unrecorded": []any{}}
	if sch.Validate(bad) == nil {
		t.Error("the upstream schema accepts an unknown publisher kind")
	}
}
