package main

import (
	"strings"
	"testing"
)

func TestParseAttest(t *testing.T) {
	got, err := parseAttest("six=benjaminp/six:release.yml,sqlparse=andialbrecht/sqlparse:python-publish.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c := got["six"]; len(got) != 2 || c.Repository != "benjaminp/six" || c.Workflow != "release.yml" || got["sqlparse"].Workflow != "python-publish.yml" {
		t.Errorf("parsed %+v", got)
	}
	if got, err := parseAttest(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"six", "six=benjaminp/six", "six=six:release.yml", "=a/b:c.yml", "six=a/b:", "six=a/b/c:r.yml"} {
		if _, err := parseAttest(bad); err == nil || !strings.Contains(err.Error(), "want PKG=OWNER/REPO:WORKFLOW") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
