package configdoc

import (
	"fmt"
	"strings"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/flagcheck"
)

// rules are what config's validation checks that the Go types do not
// show, as JSON Schema keywords, by YAML path ("[]" for list items, "{}"
// for map keys). Each mirrors a check in internal/config/validate.go;
// the tests hold them to the loader's verdicts.
var rules = map[string]obj{
	"name":                            {{"pattern", `^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`}, {"maxLength", 128}},
	"version":                         {{"pattern", `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`}},
	"repository":                      {{"pattern", `^[^@]+$`}},
	"base":                            {{"pattern", `^[^@\s]+@sha256:[0-9a-f]{64}$`}},
	"platforms":                       {{"uniqueItems", true}},
	"platforms[]":                     {{"enum", platforms()}},
	"index.url":                       {{"pattern", `^https?://[^/]`}},
	"python.interpreter":              absolute,
	"python.sitePackages":             absolute,
	"python.scripts":                  absolute,
	"user.name":                       {{"pattern", `^[a-z_][a-z0-9_-]{0,31}$`}, {"not", obj{{"const", "root"}}}},
	"user.uid":                        {{"minimum", 1}, {"maximum", flagcheck.MaxID}},
	"user.gid":                        {{"minimum", 1}, {"maximum", flagcheck.MaxID}},
	"user.home":                       absolute,
	"env{}":                           envName,
	"run.env{}":                       envName,
	"workingDir":                      absolute,
	"smoke[].expect.exitCode":         {{"minimum", 0}, {"maximum", 255}},
	"storage":                         {{"enum", []string{"both", "referrers", "legacy"}}},
	"scan.failOn":                     {{"enum", []string{"negligible", "low", "medium", "high", "critical"}}},
	"build.maxWheelLayers":            {{"minimum", 0}, {"maximum", config.MaxWheelLayersLimit}},
	"upstream.missing":                {{"enum", []string{config.MissingWarn, config.MissingFail}}},
	"upstream.publishers{}":           {{"pattern", `^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`}},
	"upstream.publishers.<name>.kind": {{"enum", []string{config.PublisherGitHub, config.PublisherGitLab, config.PublisherGoogle}}},
}

var (
	absolute = obj{{"pattern", `^/`}}
	envName  = obj{{"pattern", `^[A-Za-z_][A-Za-z0-9_]*$`}}
)

// platforms are the os/arch[/variant] values harden builds for.
func platforms() []string {
	var out []string
	for _, a := range []struct {
		arch     string
		variants []string
	}{
		{"amd64", nil}, {"arm64", []string{"v8"}}, {"arm", []string{"v5", "v6", "v7"}}, {"386", nil},
		{"ppc64le", nil}, {"s390x", nil}, {"riscv64", nil}, {"loong64", nil}, {"mips64le", nil},
	} {
		out = append(out, "linux/"+a.arch)
		for _, v := range a.variants {
			out = append(out, "linux/"+a.arch+"/"+v)
		}
	}
	return out
}

// checkRules fails on a rule whose field no longer exists, so a renamed
// field cannot silently lose its constraints.
func checkRules(m *Model, rules map[string]obj) error {
	for path := range rules {
		field := strings.TrimSuffix(strings.TrimSuffix(path, "[]"), "{}")
		if m.Lookup(field) == nil {
			return fmt.Errorf("configdoc: a rule names %q, which is no field of harden.yaml; update rules in internal/config/configdoc", path)
		}
	}
	return nil
}
