package sbom

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/buildrecord"
)

// moduleDir finds a dependency's source in the module cache.
func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("locate module %s: %v %s", mod, err, out)
	}
	return dir
}

// ModuleDir is moduleDir for the external tests.
var ModuleDir = moduleDir

// PythonType is syft's package type for Python distributions.
const PythonType = pythonType

// WithLock is withLock for the external tests.
func (s *SBOM) WithLock(wheels []buildrecord.WheelRecord, appLayers []string) {
	s.withLock(wheels, appLayers)
}
