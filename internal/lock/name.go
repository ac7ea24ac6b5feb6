// Package lock parses harden's Python inputs: the hash-locked
// requirements.lock (what pip-compile/uv emit with --generate-hashes and
// "pip install --require-hashes" accepts), the unpinned requirements.in,
// and PEP 508 environment markers.
package lock

import (
	"regexp"
	"sort"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

var (
	// PEP 508 distribution name.
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	namePrefix  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`)
	separatorRE = regexp.MustCompile(`[-_.]+`)
)

// NormalizeName returns the PEP 503 form of a project or extra name:
// lowercase, with each run of "-", "_" and "." replaced by one "-".
func NormalizeName(s string) string {
	return strings.ToLower(separatorRE.ReplaceAllString(s, "-"))
}

// validName reports whether s is a valid PEP 508 distribution name.
func validName(s string) bool { return nameRE.MatchString(s) }

// normalizeExtras normalises, sorts and deduplicates extras.
func normalizeExtras(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range in {
		k := NormalizeName(e)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// SameVersion reports whether a and b are one PEP 440 version, however
// spelled ("1.0" and "1.0.0", "2.0rc1" and "2.0.rc1").
func SameVersion(a, b string) bool {
	if a == b {
		return true
	}
	va, err1 := pep440.Parse(a)
	vb, err2 := pep440.Parse(b)
	return err1 == nil && err2 == nil && va.Equal(vb)
}
