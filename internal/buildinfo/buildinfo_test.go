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
