package build

import (
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/lock"
)

// Each wheel record carries the lock's upstream record for its file (by
// sha256), and none when the lock has none for that file.
func TestBuildRecordsUpstream(t *testing.T) {
	f := newFixture(t, "linux/amd64, linux/arm64")
	pub := lock.Publisher{Kind: lock.PublisherGitHub, Repository: "org/natpkg", Workflow: "release.yml", Environment: "pypi"}
	ts := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	var x86 string
	for i, r := range f.lock.Requirements {
		switch r.Key {
		case "natpkg":
			// Only the x86_64 file has a record.
			x86 = r.Hashes[0]
			f.lock.Requirements[i].Provenance = []lock.FileProvenance{{Filename: "natpkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", SHA256: x86,
				Attested: true, Publisher: pub, LogIndex: 9, Timestamp: ts}}
		case "purepkg":
			f.lock.Requirements[i].Provenance = []lock.FileProvenance{{Filename: "purepkg-1.0-py3-none-any.whl", SHA256: r.Hashes[0]}}
		}
	}
	_, rec, err := f.build(t)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*buildrecord.Upstream{
		"linux/amd64 natpkg":  {Attested: true, Publisher: pub, LogIndex: 9, Timestamp: ts},
		"linux/amd64 purepkg": {},
		"linux/arm64 natpkg":  nil,
		"linux/arm64 purepkg": {},
	}
	got := 0
	for _, pl := range rec.Platforms {
		for _, w := range pl.Wheels {
			k := pl.Platform + " " + w.Name
			exp, ok := want[k]
			if !ok {
				t.Errorf("unexpected wheel %s", k)
				continue
			}
			got++
			switch {
			case exp == nil && w.Upstream != nil:
				t.Errorf("%s (%s): upstream %+v, want none", k, w.Filename, *w.Upstream)
			case exp != nil && (w.Upstream == nil || *w.Upstream != *exp):
				t.Errorf("%s (%s): upstream %+v, want %+v", k, w.Filename, w.Upstream, *exp)
			}
		}
	}
	if got != len(want) {
		t.Errorf("%d wheels in the record, want %d", got, len(want))
	}
}
