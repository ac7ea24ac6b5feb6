package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Upstream is the policy on the upstream provenance of locked wheels:
// the PEP 740 attestations an index such as PyPI serves for files
// uploaded through a Trusted Publisher. harden lock verifies them and
// records the publisher of every file in the lock (docs/upstream.md).
type Upstream struct {
	// Require names the packages each of whose locked files must carry a
	// verified attestation, as a list of package names or as the word
	// all for every package.
	Require PackageSet `yaml:"require,omitempty"`
	// Publishers pins, by package name, the Trusted Publisher whose
	// attestations the package's files must carry. A pinned package is
	// required to be attested.
	Publishers map[string]UpstreamPublisher `yaml:"publishers,omitempty"`
	// Missing is what harden lock does when a file of a package that is
	// neither required nor pinned has no attestation: warn (the default)
	// or fail.
	Missing string `yaml:"missing,omitempty"`
}

// UpstreamPublisher is a Trusted Publisher as PyPI names it.
type UpstreamPublisher struct {
	// Kind is GitHub (the default), GitLab or Google.
	Kind string `yaml:"kind,omitempty"`
	// Repository is owner/name on GitHub, or the project's path on GitLab.
	Repository string `yaml:"repository,omitempty"`
	// Workflow is the workflow file name on GitHub ("release.yml"), or the
	// CI configuration path on GitLab (".gitlab-ci.yml").
	Workflow string `yaml:"workflow,omitempty"`
	// Environment, when set, must be the deployment environment the index
	// recorded at upload ("pypi").
	Environment string `yaml:"environment,omitempty"`
	// Email is the Google service account (Google publishers only).
	Email string `yaml:"email,omitempty"`
}

// PackageSet is a set of package names, or every package: written as a
// YAML list of names or as the word all.
type PackageSet struct {
	All      bool
	Packages []string
}

// Missing policies of upstream.missing.
const (
	MissingWarn = "warn"
	MissingFail = "fail"
)

// Publisher kinds of upstream.publishers.
const (
	PublisherGitHub = "GitHub"
	PublisherGitLab = "GitLab"
	PublisherGoogle = "Google"
)

// UnmarshalYAML reads "all" or a list of names.
func (s *PackageSet) UnmarshalYAML(n *yaml.Node) error {
	v, err := parsePackageSet(n)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// MarshalYAML writes all or the list.
func (s PackageSet) MarshalYAML() (any, error) {
	if s.All {
		return "all", nil
	}
	return s.Packages, nil
}

// Contains reports whether the set holds the package key (PEP 503
// normalised, as the lock writes names).
func (s PackageSet) Contains(key string) bool {
	if s.All {
		return true
	}
	for _, p := range s.Packages {
		if normalizePackage(p) == key {
			return true
		}
	}
	return false
}

func parsePackageSet(n *yaml.Node) (PackageSet, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "all" {
			return PackageSet{All: true}, nil
		}
		return PackageSet{}, fmt.Errorf("%q is neither all nor a list of package names", n.Value)
	case yaml.SequenceNode:
		s := PackageSet{Packages: []string{}}
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return PackageSet{}, errors.New("a list item is not a package name")
			}
			s.Packages = append(s.Packages, item.Value)
		}
		return s, nil
	}
	return PackageSet{}, errors.New("want all or a list of package names")
}

// UpstreamPolicy is upstream: with its defaults applied: missing is warn,
// a publisher's kind GitHub.
func (c *Config) UpstreamPolicy() Upstream {
	u := c.Upstream
	if u.Missing == "" {
		u.Missing = MissingWarn
	}
	if len(u.Publishers) > 0 {
		pubs := make(map[string]UpstreamPublisher, len(u.Publishers))
		for k, p := range u.Publishers {
			if p.Kind == "" {
				p.Kind = PublisherGitHub
			}
			pubs[k] = p
		}
		u.Publishers = pubs
	}
	return u
}

// packageNameRE is a PEP 508 distribution name.
var packageNameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$`)

var separatorsRE = regexp.MustCompile(`[-_.]+`)

// normalizePackage is the PEP 503 form of a package name.
func normalizePackage(s string) string {
	return strings.ToLower(separatorsRE.ReplaceAllString(s, "-"))
}

// validateUpstream checks upstream:; present (see checker) tells a
// field written empty from one left out.
func (c *Config) validateUpstream(v *validator, present map[string]bool) {
	u := c.Upstream
	switch {
	case u.Missing == MissingWarn, u.Missing == MissingFail, u.Missing == "" && !present["upstream.missing"]:
	default:
		v.add("upstream.missing", fmt.Sprintf("%q is not a policy", u.Missing), "use warn (report packages without attestations) or fail")
	}
	seen := map[string]string{}
	for i, p := range u.Require.Packages {
		field := fmt.Sprintf("upstream.require[%d]", i)
		if !packageNameRE.MatchString(p) {
			v.add(field, fmt.Sprintf("%q is not a package name", p), "write the name as requirements.in does, e.g. requests, or require: all")
			continue
		}
		if first, dup := seen[normalizePackage(p)]; dup {
			v.add(field, fmt.Sprintf("%q is the same package as %q", p, first), "list each package once")
		}
		seen[normalizePackage(p)] = p
	}
	if !u.Require.All && u.Require.Packages != nil && len(u.Require.Packages) == 0 {
		v.add("upstream.require", "empty", "list the packages that must be attested, write all, or remove the field")
	}
	pubs := map[string]string{}
	for _, name := range sortedKeys(u.Publishers) {
		p := u.Publishers[name]
		field := "upstream.publishers." + name
		if !packageNameRE.MatchString(name) {
			v.add(field, fmt.Sprintf("%q is not a package name", name), "key each publisher by a package name, e.g. requests")
			continue
		}
		if first, dup := pubs[normalizePackage(name)]; dup {
			v.add(field, fmt.Sprintf("%q is the same package as %q", name, first), "pin each package's publisher once")
		}
		pubs[normalizePackage(name)] = name
		kind := p.Kind
		if kind == "" && !present[field+".kind"] {
			kind = PublisherGitHub
		}
		switch kind {
		case PublisherGitHub, PublisherGitLab:
			if p.Repository == "" {
				v.add(field+".repository", "missing", "name the repository that publishes the package, e.g. owner/name")
			} else if strings.Count(p.Repository, "/") < 1 || strings.HasPrefix(p.Repository, "/") || strings.HasSuffix(p.Repository, "/") || strings.ContainsAny(p.Repository, " \t") {
				v.add(field+".repository", fmt.Sprintf("%q is not owner/name", p.Repository), "write the repository as owner/name, without https://github.com/")
			}
			if p.Workflow == "" {
				v.add(field+".workflow", "missing", "name the workflow that publishes the package, e.g. release.yml")
			} else if kind == PublisherGitHub && strings.Contains(p.Workflow, "/") {
				v.add(field+".workflow", fmt.Sprintf("%q is a path", p.Workflow), "write the workflow's file name alone, e.g. release.yml, as PyPI's Trusted Publisher does")
			}
			if p.Email != "" {
				v.add(field+".email", "set for a "+kind+" publisher", "remove it: only Google publishers have an email")
			}
		case PublisherGoogle:
			if p.Email == "" {
				v.add(field+".email", "missing", "name the service account, e.g. release@project.iam.gserviceaccount.com")
			}
			if p.Repository != "" || p.Workflow != "" {
				v.add(field, "a Google publisher has no repository or workflow", "remove them, or set kind: GitHub or GitLab")
			}
		default:
			v.add(field+".kind", fmt.Sprintf("%q is not a publisher kind", p.Kind), "use GitHub, GitLab or Google")
		}
	}
}
