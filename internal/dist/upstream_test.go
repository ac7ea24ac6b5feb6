package dist

import (
	"encoding/json"
	"testing"

	"github.com/harden-dev/harden/internal/lock"
)

func TestUpstreamSummary(t *testing.T) {
	gh := func(repo, env string) lock.Publisher {
		return lock.Publisher{Kind: lock.PublisherGitHub, Repository: repo, Workflow: "publish.yml", Environment: env}
	}
	att := func(p lock.Publisher) lock.FileProvenance { return lock.FileProvenance{Attested: true, Publisher: p} }
	lf := &lock.File{Requirements: []lock.Requirement{
		{Name: "Click", Key: "click", Provenance: []lock.FileProvenance{att(gh("pallets/click", "pypi"))}},
		{Name: "six", Key: "six"},
		{Name: "sqlparse", Key: "sqlparse", Provenance: []lock.FileProvenance{{Attested: false}}},
		// One file attested, the other not: unattested, yet its
		// publisher is still listed.
		{Name: "psycopg", Key: "psycopg", Provenance: []lock.FileProvenance{att(gh("psycopg/psycopg", "")), {}}},
		{Name: "markupsafe", Key: "markupsafe", Provenance: []lock.FileProvenance{att(gh("pallets/markupsafe", "pypi")), att(gh("pallets/markupsafe", "pypi"))}},
		{Name: "tabulate", Key: "tabulate"},
	}}
	b, err := json.Marshal(UpstreamSummary(lf))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"pins":6,"attested":2,"publishers":[` +
		`{"publisher":{"kind":"GitHub","repository":"pallets/click","workflow":"publish.yml","environment":"pypi"},"pins":["click"]},` +
		`{"publisher":{"kind":"GitHub","repository":"pallets/markupsafe","workflow":"publish.yml","environment":"pypi"},"pins":["markupsafe"]},` +
		`{"publisher":{"kind":"GitHub","repository":"psycopg/psycopg","workflow":"publish.yml"},"pins":["psycopg"]}],` +
		`"unattested":["psycopg","sqlparse"],"unrecorded":["six","tabulate"]}`
	if string(b) != want {
		t.Errorf("summary:\n got %s\nwant %s", b, want)
	}
	if b, _ := json.Marshal(UpstreamSummary(nil)); string(b) != `{"pins":0,"attested":0,"publishers":[],"unattested":[],"unrecorded":[]}` {
		t.Errorf("summary of no lock: %s", b)
	}
}
