package dist

import (
	"cmp"
	"slices"
	"strings"

	"github.com/harden-dev/harden/internal/lock"
)

// Upstream summarises what the lock records of its pins' upstream
// provenance (harden lock's PyPI PEP 740 checks; docs/release-record.md).
type Upstream struct {
	Pins int `json:"pins"`
	// Attested counts pins with a record for at least one file whose
	// every recorded file verified.
	Attested   int              `json:"attested"`
	Publishers []PublisherCount `json:"publishers"`
	Unattested []string         `json:"unattested"` // pins with a file the index offered no attestation for
	Unrecorded []string         `json:"unrecorded"` // pins the lock records nothing for
}

// PublisherCount is one Trusted Publisher and the pins it published.
type PublisherCount struct {
	Publisher lock.Publisher `json:"publisher"`
	Pins      []string       `json:"pins"`
}

// UpstreamSummary summarises lf's provenance records; names are the
// normalised pin names, sorted; publishers are sorted by their text.
func UpstreamSummary(lf *lock.File) *Upstream {
	u := &Upstream{Publishers: []PublisherCount{}, Unattested: []string{}, Unrecorded: []string{}}
	if lf == nil {
		return u
	}
	byPub := map[lock.Publisher][]string{}
	for _, r := range lf.Requirements {
		u.Pins++
		name := cmp.Or(r.Key, lock.NormalizeName(r.Name))
		if len(r.Provenance) == 0 {
			u.Unrecorded = append(u.Unrecorded, name)
			continue
		}
		all := true
		for _, fp := range r.Provenance {
			if !fp.Attested {
				all = false
				continue
			}
			if !slices.Contains(byPub[fp.Publisher], name) {
				byPub[fp.Publisher] = append(byPub[fp.Publisher], name)
			}
		}
		if all {
			u.Attested++
		} else {
			u.Unattested = append(u.Unattested, name)
		}
	}
	for p, names := range byPub {
		slices.Sort(names)
		u.Publishers = append(u.Publishers, PublisherCount{Publisher: p, Pins: names})
	}
	slices.SortFunc(u.Publishers, func(a, b PublisherCount) int {
		return cmp.Or(strings.Compare(a.Publisher.String(), b.Publisher.String()), strings.Compare(a.Publisher.Email, b.Publisher.Email))
	})
	slices.Sort(u.Unattested)
	slices.Sort(u.Unrecorded)
	return u
}
