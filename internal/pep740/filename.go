package pep740

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
	"github.com/harden-dev/harden/internal/wheel"
)

// distName is a distribution filename parsed as PEP 740 says subjects are
// matched: by the wheel or sdist filename format, so that an equivalent but
// differently normalised name ("Foo_Bar-1.0" for "foo_bar-1.0.0") matches.
type distName struct {
	wheel    bool
	name     string // PEP 503 normalised
	version  pep440.Version
	buildNum int // wheel build tag: leading digits, then the rest
	buildRes string
	hasBuild bool
	tags     []string // wheel: expanded, lowercased, sorted
}

// parseDistFilename accepts wheel (.whl) and sdist (.tar.gz, .zip)
// filenames, the formats PEP 740 subjects may name.
func parseDistFilename(fn string) (distName, error) {
	switch {
	case strings.HasSuffix(fn, ".whl"):
		f, err := wheel.ParseFilename(fn)
		if err != nil {
			return distName{}, err
		}
		v, err := pep440.Parse(f.Version)
		if err != nil {
			return distName{}, fmt.Errorf("%q: bad version %q: %w", fn, f.Version, err)
		}
		d := distName{wheel: true, name: wheel.NormalizeName(f.Name), version: v}
		if f.Build != "" {
			i := 0
			for i < len(f.Build) && f.Build[i] >= '0' && f.Build[i] <= '9' {
				i++
			}
			n, err := strconv.Atoi(f.Build[:i])
			if err != nil {
				return distName{}, fmt.Errorf("%q: bad build tag %q", fn, f.Build)
			}
			d.hasBuild, d.buildNum, d.buildRes = true, n, f.Build[i:]
		}
		for _, t := range f.Tags {
			d.tags = append(d.tags, t.String())
		}
		slices.Sort(d.tags)
		return d, nil
	case strings.HasSuffix(fn, ".tar.gz"), strings.HasSuffix(fn, ".zip"):
		if strings.ContainsAny(fn, "/\\\x00") {
			return distName{}, fmt.Errorf("%q is not a plain file name", fn)
		}
		base := strings.TrimSuffix(strings.TrimSuffix(fn, ".tar.gz"), ".zip")
		i := strings.LastIndex(base, "-")
		if i <= 0 || i == len(base)-1 {
			return distName{}, fmt.Errorf("%q is not a valid sdist filename: expected {name}-{version}.tar.gz", fn)
		}
		v, err := pep440.Parse(base[i+1:])
		if err != nil {
			return distName{}, fmt.Errorf("%q: bad version %q: %w", fn, base[i+1:], err)
		}
		return distName{name: wheel.NormalizeName(base[:i]), version: v}, nil
	}
	return distName{}, fmt.Errorf("%q is not a wheel (.whl) or sdist (.tar.gz, .zip) filename", fn)
}

func (d distName) equal(o distName) bool {
	return d.wheel == o.wheel && d.name == o.name && d.version.Equal(o.version) &&
		d.hasBuild == o.hasBuild && d.buildNum == o.buildNum && d.buildRes == o.buildRes &&
		slices.Equal(d.tags, o.tags)
}

// SameDistribution reports whether two distribution filenames name the same
// distribution under PEP 740's matching rule.
func SameDistribution(a, b string) (bool, error) {
	da, err := parseDistFilename(a)
	if err != nil {
		return false, err
	}
	db, err := parseDistFilename(b)
	if err != nil {
		return false, err
	}
	return da.equal(db), nil
}
