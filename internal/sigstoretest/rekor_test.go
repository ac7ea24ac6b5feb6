package sigstoretest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/testtools"
)

// fatalRecorder captures the first Fatalf instead of failing the real test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalMessage runs fn with a recorder and returns what it failed with.
func fatalMessage(t *testing.T, fn func(testing.TB)) string {
	t.Helper()
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec.msg
}

func TestStartRekorReportsServerOutput(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "rekor-server")
	script := "#!/bin/sh\necho 'fatal: signer exploded' >&2\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(testtools.EnvToolsDir, dir)

	msg := fatalMessage(t, func(tb testing.TB) { Start(tb) })
	for _, want := range []string{"exited before it was ready", "exit status 3", "signer exploded"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message lacks %q:\n%s", want, msg)
		}
	}
}

func TestTailBufferKeepsTail(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"0123", "4567", "89ab"} {
		if _, err := b.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := b.String(), "[...]\n456789ab"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
