package lock

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const provLock = `click==8.1.3 \
    --hash=sha256:` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + ` \
    --hash=sha256:` + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" + `
    # via
    #   -r requirements.in
    #   pgcli
    # provenance: click-8.1.3-py3-none-any.whl sha256:` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + ` publisher=GitHub repository=pallets/click workflow=publish.yaml environment=pypi log-index=153454663 integrated-time=2024-12-04T23:14:01Z
    # provenance: Click-8.1.3-py2.py3-none-any.whl sha256:` + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" + ` none
gcb==1.0 --hash=sha256:` + "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" + `
    # provenance: gcb-1.0-py3-none-any.whl sha256:` + "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" + ` publisher=Google email=ci%20bot@example.iam.gserviceaccount.com log-index=0 timestamp=2025-01-02T03:04:05Z
`

func TestProvenanceCommentsParse(t *testing.T) {
	f, err := Parse(strings.NewReader(provLock), "requirements.lock")
	if err != nil {
		t.Fatal(err)
	}
	click := f.Requirements[0]
	if !reflect.DeepEqual(click.Via, []string{"-r requirements.in", "pgcli"}) {
		t.Errorf("via %v", click.Via)
	}
	want := []FileProvenance{
		{Filename: "Click-8.1.3-py2.py3-none-any.whl", SHA256: hB},
		{Filename: "click-8.1.3-py3-none-any.whl", SHA256: hA, Attested: true,
			Publisher: Publisher{Kind: PublisherGitHub, Repository: "pallets/click", Workflow: "publish.yaml", Environment: "pypi"},
			LogIndex:  153454663, IntegratedTime: time.Date(2024, 12, 4, 23, 14, 1, 0, time.UTC)},
	}
	if !reflect.DeepEqual(click.Provenance, want) {
		t.Errorf("click provenance\n got %+v\nwant %+v", click.Provenance, want)
	}
	if p, ok := click.ProvenanceOf(hA); !ok || p.Publisher.String() != "GitHub pallets/click publish.yaml (environment pypi)" {
		t.Errorf("ProvenanceOf(hA) = %+v, %v", p, ok)
	}
	if _, ok := click.ProvenanceOf(hC); ok {
		t.Error("ProvenanceOf found a hash the pin does not have")
	}
	gcb := f.Requirements[1].Provenance
	if len(gcb) != 1 || gcb[0].Publisher.Email != "ci bot@example.iam.gserviceaccount.com" || gcb[0].LogIndex != 0 ||
		!gcb[0].Timestamp.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) || !gcb[0].IntegratedTime.IsZero() {
		t.Errorf("gcb provenance %+v", gcb)
	}
	// Each record renders back to the line it was read from.
	for _, r := range f.Requirements {
		for _, p := range r.Provenance {
			if line := "    # " + p.Comment() + "\n"; !strings.Contains(provLock, line) {
				t.Errorf("%s renders as %q, not a line of the lock", p.Filename, line)
			}
		}
	}
}

func TestProvenanceCommentsRefused(t *testing.T) {
	pin := "click==8.1.3 --hash=sha256:" + hA + "\n"
	rec := "    # provenance: click-8.1.3-py3-none-any.whl sha256:" + hA
	gh := " publisher=GitHub repository=pallets/click workflow=publish.yaml log-index=1 integrated-time=2024-12-04T23:14:01Z"
	cases := []struct {
		name, text, want string
	}{
		{"before any pin", "# provenance: click-8.1.3-py3-none-any.whl sha256:" + hA + " none\n" + pin, "a provenance comment comes before any pin"},
		{"too short", pin + "    # provenance: click-8.1.3-py3-none-any.whl none\n", "want \"<wheel filename>"},
		{"not a wheel", pin + "    # provenance: click-8.1.3.tar.gz sha256:" + hA + " none\n", "click-8.1.3.tar.gz"},
		{"another package's wheel", pin + "    # provenance: flask-8.1.3-py3-none-any.whl sha256:" + hA + " none\n", "flask-8.1.3-py3-none-any.whl is not a wheel of click==8.1.3"},
		{"another version's wheel", pin + "    # provenance: click-8.1.4-py3-none-any.whl sha256:" + hA + " none\n", "is not a wheel of click==8.1.3"},
		{"hash not pinned", pin + "    # provenance: click-8.1.3-py3-none-any.whl sha256:" + hB + " none\n", "sha256:" + hB + " is not a --hash of click==8.1.3"},
		{"no sha256 prefix", pin + "    # provenance: click-8.1.3-py3-none-any.whl " + hA + " none\n", "want sha256:<hex>"},
		{"twice", pin + rec + " none\n" + rec + " none\n", "has two provenance comments"},
		{"unknown key", pin + rec + gh + " branch=main\n", `unknown key "branch"`},
		{"repeated key", pin + rec + gh + " workflow=x.yml\n", "workflow is given twice"},
		{"not key=value", pin + rec + gh + " extra\n", `"extra" is not key=value`},
		{"no log index", pin + rec + " publisher=GitHub repository=pallets/click workflow=publish.yaml integrated-time=2024-12-04T23:14:01Z\n", "log-index is missing"},
		{"negative log index", pin + rec + strings.Replace(gh, "log-index=1", "log-index=-1", 1) + "\n", `log-index "-1" is not a log index`},
		{"no time", pin + rec + " publisher=GitHub repository=pallets/click workflow=publish.yaml log-index=1\n", "neither integrated-time nor timestamp"},
		{"local time", pin + rec + strings.Replace(gh, "01Z", "01+02:00", 1) + "\n", "is not a UTC time"},
		{"unknown publisher", pin + rec + strings.Replace(gh, "GitHub", "Buildkite", 1) + "\n", `publisher "Buildkite" is not GitHub, GitLab or Google`},
		{"GitHub without workflow", pin + rec + strings.Replace(gh, " workflow=publish.yaml", "", 1) + "\n", "needs repository= and workflow="},
		{"Google without email", pin + rec + " publisher=Google log-index=1 timestamp=2024-12-04T23:14:01Z\n", "needs email="},
		{"no publisher", pin + rec + " log-index=1 timestamp=2024-12-04T23:14:01Z\n", "publisher is missing"},
		{"plain character escaped", pin + rec + strings.Replace(gh, "pallets/click", "pallets%2fclick", 1) + "\n", "is not written as harden writes it"},
		{"bad escape", pin + rec + strings.Replace(gh, "pallets/click", "pallets%zzclick", 1) + "\n", "bad %-escape"},
		{"empty value", pin + rec + strings.Replace(gh, "repository=pallets/click", "repository=", 1) + "\n", "repository is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.text), "requirements.lock")
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "harden lock") {
				t.Fatalf("error %v, want a located error saying %q", err, c.want)
			}
		})
	}
}

func TestProvenanceCommentUnderRefusedPin(t *testing.T) {
	// The pin is refused; its comment is not checked against the pin
	// before it, so only the pin's own problem is reported.
	text := "ok==1.0 --hash=sha256:" + hA + "\nclick>=8 --hash=sha256:" + hB + "\n    # provenance: click-8.1.3-py3-none-any.whl sha256:" + hB + " none\n"
	_, err := Parse(strings.NewReader(text), "requirements.lock")
	if err == nil || strings.Contains(err.Error(), "provenance") || !strings.Contains(err.Error(), "not pinned to an exact version") {
		t.Fatalf("error %v", err)
	}
}

func TestEscapeValue(t *testing.T) {
	for in, want := range map[string]string{"pallets/click": "pallets/click", "a b": "a%20b", "x=y#z%": "x%3Dy%23z%25", "é": "%C3%A9"} {
		got := escapeValue(in)
		if got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
		back, err := unescapeValue(got)
		if err != nil || back != in {
			t.Errorf("unescape(%q) = %q, %v", got, back, err)
		}
	}
}
