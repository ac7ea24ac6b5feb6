package provenance

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/layer"
	"github.com/harden-dev/harden/internal/lock"
)

func TestReadInputsRoundTrip(t *testing.T) {
	p := testParams()
	p.Config.Cmd = []string{"--help"}
	p.Config.WorkingDir = "/srv"
	p.Config.Labels = map[string]string{"org.example.team": "db"}
	p.Config.Python.Interpreter = "/usr/bin/python3"
	st, prov := mustStatement(t, p)
	in, err := ReadInputs(st, prov)
	if err != nil {
		t.Fatal(err)
	}
	c := in.Config
	if c.Name != "pgcli" || c.Version != "4.3.0-r1" || c.Repository != "ghcr.io/org/pgcli" || c.Base != "python:3.12-slim@"+dg("base-index") {
		t.Errorf("identity: %+v", c)
	}
	if !reflect.DeepEqual(c.Platforms, []string{"linux/amd64", "linux/arm64"}) || c.User != p.Config.User ||
		!reflect.DeepEqual(c.Entrypoint, []string{"pgcli"}) || !reflect.DeepEqual(c.Cmd, []string{"--help"}) ||
		c.WorkingDir != "/srv" || c.Env["LANG"] != "C.UTF-8" || c.Labels["org.example.team"] != "db" ||
		c.Python.Interpreter != "/usr/bin/python3" || c.Source.Revision != testCommit {
		t.Errorf("settings not carried over: %+v", c)
	}
	if !in.Epoch.Equal(time.Unix(1700000000, 0)) || in.LockDigest != dg("lock") || in.LockPath != "requirements.lock" ||
		!reflect.DeepEqual(in.Requirements, []string{"pgcli"}) {
		t.Errorf("epoch/lock/requirements: %v %s %s %v", in.Epoch, in.LockDigest, in.LockPath, in.Requirements)
	}
	if in.Subjects[""] != dg("index") || in.Subjects["linux/arm64"] != dg("arm64") {
		t.Errorf("subjects %v", in.Subjects)
	}
	for plat, want := range map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64"} {
		ws := in.ForPlatform(plat)
		if len(ws) != 4 {
			t.Fatalf("%s: %d wheels, want 4", plat, len(ws))
		}
		found := false
		for _, w := range ws {
			if w.Name == "psycopg-binary" {
				found = strings.Contains(w.Filename, want) && w.SHA256 == hexOf(w.Filename) && w.Version == "3.2.3" &&
					w.URI == "https://files.example.test/packages/"+w.Filename
			}
		}
		if !found {
			t.Errorf("%s: no %s psycopg-binary wheel in %+v", plat, want, ws)
		}
	}
}

// The layer format travels through the provenance; one without layers
// (made before layer formats) is format 1.
func TestReadInputsLayering(t *testing.T) {
	p := testParams()
	st, prov := mustStatement(t, p)
	in, err := ReadInputs(st, prov)
	if err != nil {
		t.Fatal(err)
	}
	if in.Layering != buildrecord.FirstLayering() {
		t.Errorf("no layers: %+v, want format 1", in.Layering)
	}
	lay := buildrecord.Layering{Format: buildrecord.CurrentFormat, Compression: layer.ParallelGzip, WheelLayerThreshold: 64 << 20, MaxWheelLayers: 16}
	p.Record.Layering = &lay
	st, prov = mustStatement(t, p)
	if in, err = ReadInputs(st, prov); err != nil {
		t.Fatal(err)
	}
	if in.Layering != lay {
		t.Errorf("layers %+v, want %+v", in.Layering, lay)
	}
}

func TestReadInputsRefuses(t *testing.T) {
	cases := map[string]struct {
		edit func(ext map[string]any)
		bt   string
		want string
	}{
		"other build type":    {bt: "https://example.com/other", want: "only harden's own build"},
		"no user":             {edit: func(e map[string]any) { delete(e, "user") }, want: "lacks externalParameters user"},
		"base by tag":         {edit: func(e map[string]any) { e["baseImage"] = "python:3.12-slim" }, want: "baseImage (pinned by digest)"},
		"no epoch, no lock":   {edit: func(e map[string]any) { delete(e, "sourceDateEpoch"); delete(e, "lockDigest") }, want: "sourceDateEpoch, lockDigest"},
		"lock digest unknown": {edit: func(e map[string]any) { e["lockDigest"] = dg("other") }, want: "no resolvedDependencies entry has the lock digest"},
		"unknown layer format": {edit: func(e map[string]any) {
			e["layers"] = map[string]any{"format": 9, "compression": "pgzip-1mib"}
		}, want: "layer format 9 is unknown"},
		"unknown compression": {edit: func(e map[string]any) {
			e["layers"] = map[string]any{"format": 2, "compression": "zstd"}
		}, want: `layer compression "zstd" is unknown`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st, prov := mustStatement(t, testParams())
			bd := prov.GetBuildDefinition()
			if tc.bt != "" {
				bd.BuildType = tc.bt
			}
			if tc.edit != nil {
				ext := bd.GetExternalParameters().AsMap()
				tc.edit(ext)
				s, err := structpb.NewStruct(ext)
				if err != nil {
					t.Fatal(err)
				}
				bd.ExternalParameters = s
			}
			_, err := ReadInputs(st, prov)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if errs.ExitCode(err) != errs.CodeInput {
				t.Errorf("exit code %d, want %d", errs.ExitCode(err), errs.CodeInput)
			}
		})
	}
}

// The lock's upstream records travel through the provenance annotations
// back to the rebuild: click attested by its workflow, wcwidth recorded
// as unattested, the others without a record.
func TestReadInputsUpstream(t *testing.T) {
	st, prov := mustStatement(t, testParams())
	in, err := ReadInputs(st, prov)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, w := range in.Wheels {
		switch w.Name {
		case "click":
			seen++
			want := lock.FileProvenance{Filename: w.Filename, SHA256: w.SHA256, Attested: true, Publisher: clickUpstream.Publisher, LogIndex: clickUpstream.LogIndex}
			if w.Upstream == nil || *w.Upstream != want {
				t.Errorf("click: %+v, want %+v", w.Upstream, want)
			}
			if w.Index != "https://pypi.example/simple/" {
				t.Errorf("click's index %q, want it without credentials", w.Index)
			}
		case "wcwidth":
			seen++
			if w.Upstream == nil || w.Upstream.Attested || w.Upstream.Filename != w.Filename || w.Index != "" {
				t.Errorf("wcwidth: %+v, index %q", w.Upstream, w.Index)
			}
		default:
			if w.Upstream != nil {
				t.Errorf("%s: %+v, want no record", w.Name, w.Upstream)
			}
		}
	}
	if seen != 2 {
		t.Errorf("%d of click and wcwidth seen", seen)
	}
}

func TestUpstreamOfRefused(t *testing.T) {
	for _, ann := range []map[string]any{
		{"pypiAttested": "yes"},
		{"pypiAttested": true},
		{"pypiAttested": true, "pypiPublisher": map[string]any{"repository": "a/b"}},
		{"pypiAttested": true, "pypiPublisher": "github"},
	} {
		if fp, err := upstreamOf(ann, "a-1-py3-none-any.whl", strings.Repeat("a", 64)); err == nil {
			t.Errorf("%v: accepted as %+v", ann, fp)
		}
	}
}
