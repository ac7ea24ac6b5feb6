// Package errs classifies errors into harden's exit codes:
// 0 success, 1 a check or gate failed, 2 usage or input error,
// 3 an outside service could not be reached.
package errs

import (
	"context"
	"errors"
	"net"
	"net/url"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Exit codes shared by every command.
const (
	CodeOK          = 0
	CodeCheckFailed = 1
	CodeInput       = 2
	CodeUnreachable = 3
)

// Error attaches an exit code to an error.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func wrap(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Input marks err as a usage or input problem (exit 2).
func Input(err error) error { return wrap(CodeInput, err) }

// Check marks err as a failed check or gate (exit 1).
func Check(err error) error { return wrap(CodeCheckFailed, err) }

// Unreachable marks err as an outside service failure (exit 3).
func Unreachable(err error) error { return wrap(CodeUnreachable, err) }

// ExitCode returns the code for err. Explicitly classified errors win;
// otherwise network failures map to 3 and anything else to 1.
func ExitCode(err error) int {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if IsNetwork(err) {
		return CodeUnreachable
	}
	return CodeCheckFailed
}

// IsNetwork reports whether err comes from failing to reach a service:
// a dial, DNS or timeout failure, or a registry answering 5xx/429.
func IsNetwork(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	switch {
	case errors.As(err, &opErr), errors.As(err, &dnsErr):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &urlErr) && urlErr.Timeout():
		return true
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode >= 500 || terr.StatusCode == 429
	}
	return false
}
