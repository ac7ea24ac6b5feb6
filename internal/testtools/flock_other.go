//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package testtools

import (
	"context"
	"fmt"
	"runtime"
)

func lockFile(context.Context, string) (func(), error) {
	return nil, fmt.Errorf("file locking is not supported on %s; prebuild tools into $%s", runtime.GOOS, EnvToolsDir)
}
