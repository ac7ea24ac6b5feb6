package sbom

import (
	"context"
	"errors"
	"testing"
)

type ctxKey string

// A context from withValues keeps the caller's values, cancellation and
// deadline, and adds the values of the other context.
func TestWithValues(t *testing.T) {
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey("caller"), "c"))
	values := context.WithValue(context.Background(), ctxKey("scanner"), "s")
	c := withValues{Context: ctx, values: context.WithValue(values, ctxKey("caller"), "other")}
	if c.Value(ctxKey("caller")) != "c" || c.Value(ctxKey("scanner")) != "s" || c.Value(ctxKey("none")) != nil {
		t.Fatalf("values: caller %v, scanner %v", c.Value(ctxKey("caller")), c.Value(ctxKey("scanner")))
	}
	child, stop := context.WithCancel(c)
	defer stop()
	cancel()
	<-child.Done()
	if !errors.Is(child.Err(), context.Canceled) || child.Value(ctxKey("scanner")) != "s" {
		t.Fatalf("child: %v, %v", child.Err(), child.Value(ctxKey("scanner")))
	}
}

// A caller that gives up waiting for the scanner gets its context's
// error; once built, the scanner's context carries the caller's values.
func TestLicenseScanner(t *testing.T) {
	if testing.Short() {
		t.Skip("builds syft's license scanner (about a second of CPU)")
	}
	ls := StartLicenses()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	// The scanner has only just started building.
	if _, err := ls.with(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("with a cancelled context: %v", err)
	}
	ctx, err := ls.with(context.WithValue(context.Background(), ctxKey("caller"), "c"))
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Value(ctxKey("caller")) != "c" {
		t.Fatal("the caller's value is lost")
	}
}
