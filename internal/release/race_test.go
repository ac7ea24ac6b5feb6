//go:build race

package release

// raceEnabled: under the race detector a release takes about a minute,
// so TestResume covers a subset of the boundaries there; make test runs
// the full matrix without it.
const raceEnabled = true
