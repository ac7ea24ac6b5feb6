package errs

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestExitCode(t *testing.T) {
	base := errors.New("x")
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{base, 1},
		{Input(base), 2},
		{fmt.Errorf("wrapped: %w", Input(base)), 2},
		{Check(base), 1},
		{Unreachable(base), 3},
		{&net.OpError{Op: "dial", Err: base}, 3},
		{fmt.Errorf("push: %w", &transport.Error{StatusCode: 503}), 3},
		{fmt.Errorf("push: %w", &transport.Error{StatusCode: 400}), 1},
		{Input(&net.OpError{Op: "dial", Err: base}), 2},
	}
	for i, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("case %d (%v): exit %d, want %d", i, c.err, got, c.want)
		}
	}
	if Input(nil) != nil {
		t.Error("Input(nil) should be nil")
	}
}
