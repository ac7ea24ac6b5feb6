package flagcheck

import (
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/errs"
)

func TestPositiveDuration(t *testing.T) {
	if err := PositiveDuration("max-age", time.Nanosecond, "1h", "for no limit"); err != nil {
		t.Errorf("1ns: %v", err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		err := PositiveDuration("max-age", d, "1h", "for no limit")
		want := "--max-age " + d.String() + ": give a positive duration such as 1h, or leave the flag out for no limit"
		if errs.ExitCode(err) != errs.CodeInput || err.Error() != want {
			t.Errorf("%s: %v, want exit 2 and %q", d, err, want)
		}
	}
}

func TestNonRootID(t *testing.T) {
	for _, id := range []int{1, 10001, MaxID} {
		if err := NonRootID("uid", id, 10001); err != nil {
			t.Errorf("%d: %v", id, err)
		}
	}
	for id, want := range map[int]string{0: "--uid 0: uid 0 is root", -1: "--uid -1: give a uid from 1 to 2147483647", MaxID + 1: "--uid 2147483648: give a uid from 1"} {
		err := NonRootID("uid", id, 10001)
		if errs.ExitCode(err) != errs.CodeInput || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "10001") {
			t.Errorf("%d: %v, want exit 2 starting %q", id, err, want)
		}
	}
}
