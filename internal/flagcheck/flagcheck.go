// Package flagcheck refuses flag values a user gave that cannot be meant:
// a zero or negative duration where zero would quietly fall back to a
// default or turn a requirement off, and a user id that is root or out of
// range. Each error is an input error (exit 2) that names the flag, the
// value and what to give instead. Callers check only flags that were
// given (pflag's Changed), so a default that means "off" stays allowed.
package flagcheck

import (
	"fmt"
	"time"

	"github.com/harden-dev/harden/internal/errs"
)

// MaxID is the largest user or group id harden accepts: Kubernetes
// refuses a runAsUser or runAsGroup above it.
const MaxID = 1<<31 - 1

// PositiveDuration refuses d <= 0 given for --name. example is a value
// to suggest ("168h"); omitted says what leaving the flag out does
// ("to not limit the scan's age").
func PositiveDuration(name string, d time.Duration, example, omitted string) error {
	if d > 0 {
		return nil
	}
	return errs.Input(fmt.Errorf("--%s %s: give a positive duration such as %s, or leave the flag out %s", name, d, example, omitted))
}

// NonRootID refuses a user id given for --name that is root (0), negative
// or above MaxID; def is the flag's default.
func NonRootID(name string, id, def int) error {
	switch {
	case id == 0:
		return errs.Input(fmt.Errorf("--%s 0: uid 0 is root, which a hardened image must not run as; give its non-root uid, e.g. %d, or leave the flag out for %d", name, def, def))
	case id < 0 || id > MaxID:
		return errs.Input(fmt.Errorf("--%s %d: give a uid from 1 to %d, e.g. %d, or leave the flag out for %d", name, id, MaxID, def, def))
	}
	return nil
}
