package verify

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/lock"
	slsaprov "github.com/harden-dev/harden/internal/provenance"
)

// slsaWith makes a signed-looking SLSA statement, as harden attest writes
// it, whose click wheel names publisher repo (none when repo is "").
func slsaWith(t *testing.T, builder, repo string) map[string]any {
	t.Helper()
	sum := func(c byte) string { return strings.Repeat(string(c), 64) }
	click := buildrecord.WheelRecord{Name: "click", Version: "8.1.8", Filename: "click-8.1.8-py3-none-any.whl", SHA256: sum('c'), URL: "https://files.example.test/click.whl"}
	if repo != "" {
		click.Upstream = &buildrecord.Upstream{Attested: true, LogIndex: 42, Timestamp: time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC),
			Publisher: lock.Publisher{Kind: lock.PublisherGitHub, Repository: repo, Workflow: "publish.yaml", Environment: "pypi"}}
	}
	six := buildrecord.WheelRecord{Name: "six", Version: "1.17.0", Filename: "six-1.17.0-py2.py3-none-any.whl", SHA256: sum('d'), URL: "https://files.example.test/six.whl",
		Upstream: &buildrecord.Upstream{}}
	tab := buildrecord.WheelRecord{Name: "tabulate", Version: "0.9.0", Filename: "tabulate-0.9.0-py3-none-any.whl", SHA256: sum('e'), URL: "https://files.example.test/tabulate.whl"}
	rec := &buildrecord.Record{SchemaVersion: buildrecord.Schema, Name: "app", Version: "1", Digest: "sha256:" + sum('1'),
		Platforms: []buildrecord.PlatformRecord{{Platform: "linux/amd64", Digest: "sha256:" + sum('2'), BaseDigest: "sha256:" + sum('3'),
			Wheels: []buildrecord.WheelRecord{tab, six, click}}},
		Base:      buildrecord.BaseRecord{Name: "python", Digest: "sha256:" + sum('4'), Ref: "example.test/python@sha256:" + sum('4')},
		Lock:      buildrecord.LockRecord{Path: "requirements.lock", Digest: "sha256:" + sum('5')},
		StartedOn: time.Unix(1700000000, 0).UTC(), FinishedOn: time.Unix(1700000100, 0).UTC(),
	}
	st, err := slsaprov.Statement(slsaprov.Params{Record: rec, Repository: "example.test/app", Builder: slsaprov.Builder{ID: builder}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := slsaprov.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUpstreamOfProvenance(t *testing.T) {
	got := upstreamOf(slsaWith(t, "https://builder.example.test", "pallets/click"))
	idx := int64(42)
	plats := []string{"linux/amd64"}
	want := []InputUpstream{
		{Name: "click", Version: "8.1.8", Filename: "click-8.1.8-py3-none-any.whl", SHA256: strings.Repeat("c", 64), Platforms: plats,
			Recorded: true, Attested: true, Publisher: &InputPublisher{Kind: "GitHub", Repository: "pallets/click", Workflow: "publish.yaml", Environment: "pypi"},
			LogIndex: &idx, Timestamp: "2025-06-07T08:09:10Z"},
		{Name: "six", Version: "1.17.0", Filename: "six-1.17.0-py2.py3-none-any.whl", SHA256: strings.Repeat("d", 64), Platforms: plats, Recorded: true},
		{Name: "tabulate", Version: "0.9.0", Filename: "tabulate-0.9.0-py3-none-any.whl", SHA256: strings.Repeat("e", 64), Platforms: plats},
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Fatalf("upstream:\n got %s\nwant %s", gj, wj)
	}
}

// Only the accepted statement feeds input.upstream: a signed statement
// that failed the provenance check does not.
func TestUpstreamInputFromAcceptedOnly(t *testing.T) {
	idx, _ := name.NewDigest("example.test/app@sha256:" + strings.Repeat("1", 64))
	want := "https://builder.example.test"
	rejected := Verified{PredicateType: SLSAPredicateType, Statement: slsaWith(t, "https://other.example.test", "evil/click")}
	accepted := Verified{PredicateType: SLSAPredicateType, Statement: slsaWith(t, want, "pallets/click")}

	p := checkProvenance(&Report{}, Options{BuilderID: want}, &target{ref: idx, atts: []Verified{rejected, accepted}})
	up := p.upstreamInput()
	if len(up) != 3 || up[0].Publisher == nil || up[0].Publisher.Repository != "pallets/click" {
		t.Fatalf("upstream from two candidates = %+v, want the accepted one's (pallets/click)", up)
	}

	p = checkProvenance(&Report{}, Options{BuilderID: want}, &target{ref: idx, atts: []Verified{rejected}})
	if up := p.upstreamInput(); up == nil || len(up) != 0 {
		t.Fatalf("upstream without an accepted statement = %+v, want []", up)
	}
	if up := (*provenance)(nil).upstreamInput(); up == nil || len(up) != 0 {
		t.Fatalf("upstream without provenance = %+v, want []", up)
	}
}
