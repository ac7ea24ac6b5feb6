package release

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestProgressRenderers(t *testing.T) {
	res := StageResult{Stage: StageBuild, Status: "done", Seconds: 1.5, Detail: "index sha256:abc"}

	var plain bytes.Buffer
	p := &Plain{W: &plain}
	p.Start(StageBuild)
	p.Log("installing wheels")
	p.End(res)
	want := "==> build\n    build: installing wheels\n<== build done in 1.50s: index sha256:abc\n"
	if plain.String() != want {
		t.Errorf("plain:\n%q\nwant\n%q", plain.String(), want)
	}

	var js bytes.Buffer
	j := &JSON{W: &js, Now: func() time.Time { return time.Unix(0, 0) }}
	j.Start(StageBuild)
	j.Log("installing wheels")
	j.End(res)
	var evs []Event
	for _, line := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		evs = append(evs, e)
	}
	if len(evs) != 3 || evs[0].Type != "start" || evs[1].Stage != StageBuild || evs[1].Message != "installing wheels" ||
		evs[2].Status != "done" || evs[2].Seconds != 1.5 || evs[2].Time != "1970-01-01T00:00:00Z" {
		t.Errorf("events %+v", evs)
	}

	var live bytes.Buffer
	l := NewLive(&live)
	l.Start(StageBuild)
	l.End(res)
	l.Start(StageTest)
	l.Close()
	out := live.String()
	if !strings.Contains(out, "✓ build") || !strings.Contains(out, "… test") || !strings.Contains(out, "\x1b[1A") {
		t.Errorf("live display:\n%q", out)
	}

	var tbl bytes.Buffer
	Table(&tbl, []StageResult{res, {Stage: StageTest, Status: "skipped", Seconds: 0.25}})
	if !strings.Contains(tbl.String(), "total") || !strings.Contains(tbl.String(), "1.75s") {
		t.Errorf("table:\n%s", tbl.String())
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"harden", "verify", "r@sha256:ab", "--certificate-identity", "https://x/y@refs/tags/v1", "--trusted-root", "/tmp/my root/it's.json"})
	want := `harden verify r@sha256:ab --certificate-identity https://x/y@refs/tags/v1 --trusted-root '/tmp/my root/it'"'"'s.json'`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
