package lock

import "fmt"

// ParseError is one problem in a requirements file. Its text has the
// form "<path>:<line>: <problem>; <fix>".
type ParseError struct {
	Path    string
	Line    int
	Problem string
	Fix     string
	Err     error // underlying cause, if any
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s; %s", e.Path, e.Line, e.Problem, e.Fix)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Fix texts shared by several lock problems.
const (
	fixRelock   = `regenerate the lock with "harden lock"`
	fixNeedHash = fixRelock + ` (every pin needs --hash=sha256:...)`
	fixWheels   = `harden installs wheels only: publish a wheel to your index and pin it as name==version with --hash=sha256:...`
)
