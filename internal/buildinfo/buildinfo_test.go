package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}
	cases := []struct {
		name    string
		bi      *debug.BuildInfo
		stamped string
		want    Info
		line    string
	}{
		{"go install at a tag", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, "",
			Info{Version: "v1.2.3", GoVersion: "go1.26.8"}, "harden v1.2.3 (go1.26.8)"},
		{"a checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "",
			Info{Version: "dev-0123456789ab", Commit: rev, GoVersion: "go1.26.8"}, "harden dev-0123456789ab (go1.26.8)"},
		{"a dirty checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}}, "",
			Info{Version: "dev-0123456789ab-dirty", Commit: rev, Modified: true, GoVersion: "go1.26.8"}, "harden dev-0123456789ab-dirty (go1.26.8)"},
		{"a release build", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "v2.0.0",
			Info{Version: "v2.0.0", Commit: rev, GoVersion: "go1.26.8"}, "harden v2.0.0 (commit " + rev + ", go1.26.8)"},
		{"no build information", nil, "", Info{Version: "dev"}, "harden dev"},
	}
	for _, c := range cases {
		got := From(c.bi, c.stamped)
		if got != c.want || got.String() != c.line {
			t.Errorf("%s: %+v %q, want %+v %q", c.name, got, got.String(), c.want, c.line)
		}
	}
}

// Help links point at the docs of the harden that prints them.
func TestDocURL(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		info Info
		ref  string
	}{
		{Info{Version: "v1.4.0", Commit: commit}, "v1.4.0"},
		{Info{Version: "v1.5.0-rc.1"}, "v1.5.0-rc.1"},
		{Info{Version: "v1.5.0-rc1"}, "v1.5.0-rc1"},
		{Info{Version: "dev-0123456789ab", Commit: commit}, commit},
		{Info{Version: "dev-0123456789ab-dirty", Commit: commit, Modified: true}, "main"},
		{Info{Version: "v0.0.0-20261203120000-0123456789ab"}, "main"},
		{Info{Version: "dev"}, "main"},
	} {
		if got, want := tc.info.DocURL("docs/vsa.md"), "https://github.com/harden-dev/harden/blob/"+tc.ref+"/docs/vsa.md"; got != want {
			t.Errorf("%+v: %s, want %s", tc.info, got, want)
		}
	}
}
