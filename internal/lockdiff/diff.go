// Package lockdiff compares two hash-locked requirements files for review:
// what was added, removed, upgraded or downgraded, and the red flags a
// supply-chain reviewer must look at (files changed behind an unchanged
// version, new transitive dependencies, platforms that lost a pin, and
// upstream attestations recorded by harden lock that changed publisher,
// went missing, or never were there for a new package).
package lockdiff

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"

	"github.com/harden-dev/harden/internal/lock"
)

// Pin is a package as one lock pins it.
type Pin struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Marker  string   `json:"marker,omitempty"`
	Via     []string `json:"via,omitempty"`
}

// Change is a package whose version differs between the locks.
type Change struct {
	Name   string `json:"name"`
	Old    string `json:"old"`
	New    string `json:"new"`
	Marker string `json:"marker,omitempty"` // the new pin's
}

// Red flag kinds, in the order a report lists them.
const (
	FlagHashesChanged    = "hashes-changed"    // files behind an unchanged version changed
	FlagPublisherChanged = "publisher-changed" // the upstream attestations name another Trusted Publisher
	FlagAttestationLost  = "attestation-lost"  // a package attested before has a file without attestation
	FlagCoverageLost     = "coverage-lost"     // a pin now applies to fewer targets or lists fewer files
	FlagMarkerChanged    = "marker-changed"    // a pin's environment marker changed
	FlagNewTransitive    = "new-transitive"    // a new package nobody asked for directly
	FlagNewUnattested    = "new-unattested"    // a new package the lock records without attestation
)

var flagOrder = map[string]int{FlagHashesChanged: 0, FlagPublisherChanged: 1, FlagAttestationLost: 2, FlagCoverageLost: 3,
	FlagMarkerChanged: 4, FlagNewTransitive: 5, FlagNewUnattested: 6}

// RedFlag is a change that needs a reviewer's attention.
type RedFlag struct {
	Kind          string   `json:"kind"`
	Package       string   `json:"package"`
	Version       string   `json:"version"`
	Message       string   `json:"message"`
	RemovedHashes []string `json:"removed_hashes,omitempty"` // sha256 hex
	AddedHashes   []string `json:"added_hashes,omitempty"`
	Via           []string `json:"via,omitempty"`
	OldMarker     string   `json:"old_marker,omitempty"`
	NewMarker     string   `json:"new_marker,omitempty"`
	// Lost names the environments where the pin applied and no longer
	// does, e.g. "linux/arm64 (Python 3.8-3.14)".
	Lost []string `json:"lost,omitempty"`
	// OldPublishers and NewPublishers are the Trusted Publishers the
	// locks record as attesting the package's files; Files the files a
	// provenance flag is about.
	OldPublishers []string `json:"old_publishers,omitempty"`
	NewPublishers []string `json:"new_publishers,omitempty"`
	Files         []string `json:"files,omitempty"`
}

// Summary counts each section of a Report.
type Summary struct {
	Added      int `json:"added"`
	Removed    int `json:"removed"`
	Upgraded   int `json:"upgraded"`
	Downgraded int `json:"downgraded"`
	Changed    int `json:"changed"`
	RedFlags   int `json:"red_flags"`
}

func (s Summary) String() string {
	return fmt.Sprintf("%d added, %d removed, %d upgraded, %d downgraded, %d changed, %d red flag(s)",
		s.Added, s.Removed, s.Upgraded, s.Downgraded, s.Changed, s.RedFlags)
}

// Report is the difference between two locks. Every list is sorted by
// normalised package name (red flags by kind first).
type Report struct {
	Old        string    `json:"old"`
	New        string    `json:"new"`
	Added      []Pin     `json:"added"`
	Removed    []Pin     `json:"removed"`
	Upgraded   []Change  `json:"upgraded"`
	Downgraded []Change  `json:"downgraded"`
	Changed    []Change  `json:"changed"` // a different spelling of an equal version, e.g. 1.0 and 1.0.0
	RedFlags   []RedFlag `json:"red_flags"`
	Summary    Summary   `json:"summary"`
}

// Risky reports whether the diff has any red flag.
func (r Report) Risky() bool { return len(r.RedFlags) > 0 }

// Diff compares oldLock with newLock. in, when not nil, is the requirements.in
// that decides which new packages are direct requirements; without it a
// new package counts as direct when its "# via" names a -r file, as
// pip-compile writes for top-level requirements.
func Diff(oldLock, newLock *lock.File, in *lock.Input) Report {
	d := &differ{in: in, r: Report{
		Old: oldLock.Path, New: newLock.Path,
		Added: []Pin{}, Removed: []Pin{}, Upgraded: []Change{}, Downgraded: []Change{}, Changed: []Change{}, RedFlags: []RedFlag{},
	}}
	olds, news := byKey(oldLock), byKey(newLock)
	keys := make([]string, 0, len(olds)+len(news))
	for k := range olds {
		keys = append(keys, k)
	}
	for k := range news {
		if _, ok := olds[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.key(olds[k], news[k])
	}
	sort.SliceStable(d.r.RedFlags, func(i, j int) bool {
		a, b := d.r.RedFlags[i], d.r.RedFlags[j]
		if a.Kind != b.Kind {
			return flagOrder[a.Kind] < flagOrder[b.Kind]
		}
		return lock.NormalizeName(a.Package) < lock.NormalizeName(b.Package)
	})
	d.r.Summary = Summary{Added: len(d.r.Added), Removed: len(d.r.Removed), Upgraded: len(d.r.Upgraded),
		Downgraded: len(d.r.Downgraded), Changed: len(d.r.Changed), RedFlags: len(d.r.RedFlags)}
	return d.r
}

type differ struct {
	in *lock.Input
	r  Report
}

func byKey(f *lock.File) map[string][]lock.Requirement {
	out := map[string][]lock.Requirement{}
	for _, r := range f.Requirements {
		out[r.Key] = append(out[r.Key], r)
	}
	return out
}

// key compares the pins of one package. One pin on each side pair up
// whatever their markers; with several (one per environment), pins pair
// by marker, and the rest in file order.
func (d *differ) key(olds, news []lock.Requirement) {
	if len(olds) == 1 && len(news) == 1 {
		d.pair(olds[0], news[0])
		return
	}
	var restOld []lock.Requirement
	used := make([]bool, len(news))
	for _, o := range olds {
		j := slices.IndexFunc(news, func(n lock.Requirement) bool { return canonicalMarker(n.Marker) == canonicalMarker(o.Marker) })
		if j >= 0 && !used[j] {
			used[j] = true
			d.pair(o, news[j])
			continue
		}
		restOld = append(restOld, o)
	}
	var restNew []lock.Requirement
	for j, n := range news {
		if !used[j] {
			restNew = append(restNew, n)
		}
	}
	for len(restOld) > 0 && len(restNew) > 0 {
		d.pair(restOld[0], restNew[0])
		restOld, restNew = restOld[1:], restNew[1:]
	}
	for _, o := range restOld {
		d.r.Removed = append(d.r.Removed, pinOf(o))
	}
	for _, n := range restNew {
		d.added(n)
	}
}

func pinOf(r lock.Requirement) Pin {
	return Pin{Name: r.Name, Version: r.Version, Marker: r.Marker, Via: r.Via}
}

func (d *differ) added(n lock.Requirement) {
	p := pinOf(n)
	d.r.Added = append(d.r.Added, p)
	d.unattested(n)
	if d.direct(n) {
		return
	}
	via := "via " + strings.Join(n.Via, ", ")
	if len(n.Via) == 0 {
		via = "the lock does not say what requires it"
	}
	d.flag(RedFlag{Kind: FlagNewTransitive, Package: n.Name, Version: n.Version, Via: n.Via,
		Message: fmt.Sprintf("new package that is not a direct requirement (%s): review it as a new supply-chain dependency", via)})
}

// unattested flags a new package whose files the lock records without
// an upstream attestation. A lock without provenance records (not
// checked) says nothing either way.
func (d *differ) unattested(n lock.Requirement) {
	var files []string
	for _, fp := range n.Provenance {
		if !fp.Attested {
			files = append(files, fp.Filename)
		}
	}
	if len(files) == 0 {
		return
	}
	d.flag(RedFlag{Kind: FlagNewUnattested, Package: n.Name, Version: n.Version, Files: files,
		Message: "new package without upstream attestation (PEP 740): nothing ties its files to a source repository or publishing workflow; review where it comes from"})
}

// publishers lists the distinct publishers r's records attest, sorted.
func publishers(r lock.Requirement) []string {
	var out []string
	for _, fp := range r.Provenance {
		if s := fp.Publisher.String(); fp.Attested && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// provenance flags a pin whose attestations name another publisher than
// before, or that has a file without attestation where the old pin was
// attested.
func (d *differ) provenance(o, n lock.Requirement) {
	oldPubs, newPubs := publishers(o), publishers(n)
	if len(oldPubs) == 0 {
		return
	}
	if len(newPubs) > 0 && !slices.Equal(oldPubs, newPubs) {
		d.flag(RedFlag{Kind: FlagPublisherChanged, Package: n.Name, Version: n.Version, OldPublishers: oldPubs, NewPublishers: newPubs,
			Message: fmt.Sprintf("the upstream attestations were by %s and are now by %s: a changed Trusted Publisher is how a hijacked project looks; confirm the move with the project before accepting it",
				strings.Join(oldPubs, ", "), strings.Join(newPubs, ", "))})
	}
	var lost []string
	for _, h := range n.Hashes {
		if fp, ok := n.ProvenanceOf(h); !ok || !fp.Attested {
			name := "sha256:" + h
			if ok {
				name = fp.Filename
			}
			lost = append(lost, name)
		}
	}
	if len(lost) > 0 {
		d.flag(RedFlag{Kind: FlagAttestationLost, Package: n.Name, Version: n.Version, OldPublishers: oldPubs, Files: lost,
			Message: fmt.Sprintf("%s %s was attested by %s; the new lock records no attestation for %s: find out why before accepting it",
				o.Name, o.Version, strings.Join(oldPubs, ", "), strings.Join(lost, ", "))})
	}
}

// direct reports whether r is a top-level requirement.
func (d *differ) direct(r lock.Requirement) bool {
	if d.in != nil {
		_, ok := d.in.Lookup(r.Key)
		return ok
	}
	for _, v := range r.Via {
		if strings.HasPrefix(v, "-r ") {
			return true
		}
	}
	return false
}

func (d *differ) flag(f RedFlag) { d.r.RedFlags = append(d.r.RedFlags, f) }

// pair compares two pins of the same package.
func (d *differ) pair(o, n lock.Requirement) {
	c := Change{Name: n.Name, Old: o.Version, New: n.Version, Marker: n.Marker}
	same := o.Version == n.Version
	switch cmp, ok := compareVersions(o.Version, n.Version); {
	case same:
	case ok && cmp == 0:
		same = true
		d.r.Changed = append(d.r.Changed, c)
	case ok && cmp < 0:
		d.r.Upgraded = append(d.r.Upgraded, c)
	case ok && cmp > 0:
		d.r.Downgraded = append(d.r.Downgraded, c)
	default:
		d.r.Changed = append(d.r.Changed, c)
	}
	if same {
		d.hashes(o, n)
	}
	d.provenance(o, n)
	d.markers(o, n)
}

// hashes flags a changed set of files behind one version.
func (d *differ) hashes(o, n lock.Requirement) {
	removed, added := setDiff(o.Hashes, n.Hashes), setDiff(n.Hashes, o.Hashes)
	if len(added) > 0 {
		msg := "the files behind an unchanged version changed: investigate before trusting this lock (a file replaced under the same version is how a compromised release looks)"
		if len(removed) == 0 {
			msg = "new files appeared behind an unchanged version: investigate before trusting this lock (a new platform wheel is normal; any other new file is not)"
		}
		d.flag(RedFlag{Kind: FlagHashesChanged, Package: n.Name, Version: n.Version, Message: msg, RemovedHashes: removed, AddedHashes: added})
	}
	if len(n.Hashes) < len(o.Hashes) {
		d.flag(RedFlag{Kind: FlagCoverageLost, Package: n.Name, Version: n.Version, RemovedHashes: removed,
			Message: fmt.Sprintf("hash count dropped from %d to %d for the same version: a platform wheel was likely removed, so some target may have no wheel", len(o.Hashes), len(n.Hashes))})
	}
}

// markers flags a changed marker, and lost coverage when the new marker
// holds in fewer of the environments harden builds for.
func (d *differ) markers(o, n lock.Requirement) {
	if canonicalMarker(o.Marker) == canonicalMarker(n.Marker) {
		return
	}
	d.flag(RedFlag{Kind: FlagMarkerChanged, Package: n.Name, Version: n.Version, OldMarker: o.Marker, NewMarker: n.Marker,
		Message: fmt.Sprintf("marker changed from %s to %s: check the pin still applies where the image runs", showMarker(o.Marker), showMarker(n.Marker))})
	if lost, everywhere := lostEnvs(o.Marker, n.Marker); len(lost) > 0 {
		msg := "the new marker applies to fewer targets: no longer on " + strings.Join(lost, ", ")
		if everywhere {
			msg = "the new marker excludes every Linux target: the pin no longer applies anywhere harden builds"
		}
		d.flag(RedFlag{Kind: FlagCoverageLost, Package: n.Name, Version: n.Version, OldMarker: o.Marker, NewMarker: n.Marker, Lost: lost, Message: msg})
	}
}

func showMarker(m string) string {
	if m == "" {
		return "(none)"
	}
	return "`" + m + "`"
}

// canonicalMarker normalises spelling and spacing so that only a change
// of meaning counts; unparseable markers compare as written.
func canonicalMarker(m string) string {
	if m == "" {
		return ""
	}
	pm, err := lock.ParseMarker(m)
	if err != nil {
		return m
	}
	return pm.String()
}

// The environments markers are evaluated in to find lost coverage: the
// Linux platforms harden builds for and the CPython releases in use.
var (
	gridPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64"}
	gridMinors    = []int{8, 9, 10, 11, 12, 13, 14}
)

// lostEnvs lists the platforms, with the Python versions unless it is all
// of them, where oldM holds and newM does not; everywhere is set when
// that is every environment of the grid. Unevaluable markers yield
// nothing: the marker-changed flag already asks for a look.
func lostEnvs(oldM, newM string) (lost []string, everywhere bool) {
	parse := func(s string) (*lock.Marker, bool) {
		if s == "" {
			return nil, true
		}
		m, err := lock.ParseMarker(s)
		return m, err == nil
	}
	om, ok1 := parse(oldM)
	nm, ok2 := parse(newM)
	if !ok1 || !ok2 {
		return nil, false
	}
	everywhere = true
	for _, p := range gridPlatforms {
		var minors []int
		for _, minor := range gridMinors {
			env, err := lock.TargetEnv("3."+strconv.Itoa(minor)+".0", p)
			if err != nil {
				return nil, false
			}
			was, err1 := om.Eval(env)
			is, err2 := nm.Eval(env)
			if err1 != nil || err2 != nil {
				return nil, false
			}
			if was && !is {
				minors = append(minors, minor)
			}
		}
		switch {
		case len(minors) == len(gridMinors):
			lost = append(lost, p)
		case len(minors) > 0:
			everywhere = false
			lost = append(lost, p+" (Python "+ranges(minors)+")")
		default:
			everywhere = false
		}
	}
	return lost, everywhere && len(lost) > 0
}

// ranges renders sorted minor versions as "3.8-3.10, 3.12".
func ranges(minors []int) string {
	var parts []string
	for i := 0; i < len(minors); {
		j := i
		for j+1 < len(minors) && minors[j+1] == minors[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprintf("3.%d", minors[i]))
		} else {
			parts = append(parts, fmt.Sprintf("3.%d-3.%d", minors[i], minors[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// compareVersions compares PEP 440 versions; ok is false when either
// does not parse.
func compareVersions(a, b string) (int, bool) {
	va, err1 := pep440.Parse(a)
	vb, err2 := pep440.Parse(b)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return va.Compare(vb), true
}

// setDiff returns the elements of a not in b, sorted.
func setDiff(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
