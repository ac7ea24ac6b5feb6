package buildrecord

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/lock"
)

const (
	sumA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	sumB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	sumC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

func TestUpstreamOf(t *testing.T) {
	pub := lock.Publisher{Kind: lock.PublisherGitHub, Repository: "pallets/click", Workflow: "publish.yaml", Environment: "pypi"}
	it := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
	r := lock.Requirement{Key: "click", Provenance: []lock.FileProvenance{
		{Filename: "click-8.1.8-py3-none-any.whl", SHA256: sumA, Attested: true, Publisher: pub, LogIndex: 42, IntegratedTime: it},
		{Filename: "click-8.1.8.tar.gz", SHA256: sumB},
	}}
	got := UpstreamOf(r, sumA)
	want := &Upstream{Attested: true, Publisher: pub, LogIndex: 42, IntegratedTime: it.UTC()}
	if got == nil || *got != *want {
		t.Fatalf("UpstreamOf(attested) = %+v, want %+v", got, want)
	}
	if got := UpstreamOf(r, sumB); got == nil || *got != (Upstream{}) {
		t.Fatalf("UpstreamOf(none) = %+v, want {Attested:false}", got)
	}
	if got := UpstreamOf(r, sumC); got != nil {
		t.Fatalf("UpstreamOf(unrecorded) = %+v, want nil", got)
	}
}

func TestRecordUpstreamJSON(t *testing.T) {
	pub := lock.Publisher{Kind: lock.PublisherGitHub, Repository: "pallets/click", Workflow: "publish.yaml"}
	rec := &Record{SchemaVersion: Schema, Platforms: []PlatformRecord{{Platform: "linux/amd64", Wheels: []WheelRecord{
		{Name: "click", Version: "8.1.8", Filename: "click.whl", SHA256: sumA, Upstream: &Upstream{Attested: true, Publisher: pub, LogIndex: 7,
			IntegratedTime: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{Name: "six", Version: "1.17.0", Filename: "six.whl", SHA256: sumB, Upstream: &Upstream{}},
		{Name: "tabulate", Version: "0.9.0", Filename: "tabulate.whl", SHA256: sumC},
	}}}}
	path := filepath.Join(t.TempDir(), "build.json")
	if err := WriteRecord(path, rec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Platforms []struct {
			Wheels []map[string]json.RawMessage `json:"wheels"`
		} `json:"platforms"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	ws := raw.Platforms[0].Wheels
	wantUp := []string{
		`{"attested":true,"publisher":{"kind":"GitHub","repository":"pallets/click","workflow":"publish.yaml"},"logIndex":7,"integratedTime":"2025-01-02T03:04:05Z"}`,
		`{"attested":false}`,
		"",
	}
	for i, w := range wantUp {
		var got string
		if m, ok := ws[i]["upstream"]; ok {
			var c bytes.Buffer
			if err := json.Compact(&c, m); err != nil {
				t.Fatal(err)
			}
			got = c.String()
		}
		if got != w {
			t.Errorf("wheel %d upstream = %s, want %s", i, got, w)
		}
	}
	back, err := ReadRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	if u := back.Platforms[0].Wheels[0].Upstream; u == nil || *u != *rec.Platforms[0].Wheels[0].Upstream {
		t.Errorf("read back upstream %+v", u)
	}
	if u := back.Platforms[0].Wheels[2].Upstream; u != nil {
		t.Errorf("wheel without upstream read back as %+v", u)
	}
}

// A record written before wheels carried upstream records still loads.
func TestReadRecordWithoutUpstream(t *testing.T) {
	old := `{"schemaVersion":"` + Schema + `","name":"app","version":"1","platforms":[{"platform":"linux/amd64","wheels":[{"name":"six","version":"1.17.0","filename":"six.whl","sha256":"` + sumA + `","url":"file:///w/six.whl"}]}]}`
	path := filepath.Join(t.TempDir(), "build.json")
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := rec.Platforms[0].Wheels[0]; w.Name != "six" || w.Upstream != nil {
		t.Fatalf("old record wheel = %+v, want six without upstream", w)
	}
}
