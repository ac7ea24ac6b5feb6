package relversion

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		err  string
	}{
		{in: "4.3.0-r1", want: Version{App: "4.3.0", Rev: 1}},
		{in: "4.3.0-r12", want: Version{App: "4.3.0", Rev: 12}},
		{in: "1!2.0rc1-r3", err: "cannot be an image tag"},
		{in: "2.0rc1.post2.dev3-r3", want: Version{App: "2.0rc1.post2.dev3", Rev: 3}},
		{in: "4.3.0-1-r2", want: Version{App: "4.3.0-1", Rev: 2}}, // 4.3.0-1 is 4.3.0.post1
		{in: "4.3.0", err: "is not <app-version>-r<N>"},
		{in: "4.3.0-r0", err: "is not <app-version>-r<N>"},
		{in: "4.3.0-r01", err: "is not <app-version>-r<N>"},
		{in: "4.3.0-R1", err: "is not <app-version>-r<N>"},
		{in: "-r1", err: "is not <app-version>-r<N>"},
		{in: "latest-r1", err: `"latest" is not a PEP 440 version`},
		{in: "4.3.0+local-r1", err: "cannot be an image tag"},
		{in: "4.3.0 -r1", err: "cannot be an image tag"},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("Parse(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestBump(t *testing.T) {
	for _, tc := range []struct {
		last       string
		appVersion string
		changed    bool
		want       string
	}{
		{"4.3.0-r1", "4.3.0", true, "4.3.0-r2"},  // packaging, lock or base changed
		{"4.3.0-r9", "4.3.0", true, "4.3.0-r10"}, // no wrap at one digit
		{"4.3.0-r2", "4.3.0", false, "4.3.0-r2"}, // nothing to release
		{"4.3.0-r2", "4.4.0", true, "4.4.0-r1"},  // new app version
		{"4.3.0-r2", "4.4.0", false, "4.4.0-r1"}, // a new app version is a change
		{"4.3.0-r5", "4.2.9", true, "4.2.9-r1"},  // downgrades restart too
		{"4.3-r2", "4.3.0", true, "4.3-r3"},      // PEP 440 equal: same app version
		{"4.3.0-r2", "4.3.0.post1", true, "4.3.0.post1-r1"},
	} {
		last, err := Parse(tc.last)
		if err != nil {
			t.Fatal(err)
		}
		if got := Bump(last, tc.appVersion, tc.changed).String(); got != tc.want {
			t.Errorf("Bump(%s, %s, changed=%v) = %s, want %s", tc.last, tc.appVersion, tc.changed, got, tc.want)
		}
	}
}
