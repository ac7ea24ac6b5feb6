package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/testtools"
	"github.com/harden-dev/harden/internal/wheel/bigwheel"
)

// TestBuildMemoryBound builds an image around a 512 MiB wheel of
// incompressible data and fails when the harden process peaks above
// 256 MiB of resident memory: the build must stream wheels into layers,
// never hold a member, a layer or a wheel in memory.
func TestBuildMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: -short; this test writes and builds a 512 MiB wheel")
	}
	const (
		payload = 512 << 20
		limit   = 256 << 20
	)
	fx := fixture.Load(t)
	reg := registrytest.Start(t, nil)
	base := buildtest.PushBase(t, fx, reg)

	wheels := t.TempDir()
	sum, err := bigwheel.Write(filepath.Join(wheels, bigwheel.Filename("bigdata", "1.0")), "bigdata", "1.0", payload, 1)
	if err != nil {
		t.Fatalf("write the test wheel: %v", err)
	}
	dir := buildtest.LargeProject(t, fx, base, reg+"/org/big", sum)
	out := filepath.Join(dir, "out")
	cmd := exec.Command(hardenBin(t), "build", "--config", filepath.Join(dir, "harden.yaml"), "--out", out,
		"--wheel-dir", wheels, "--cache-dir", filepath.Join(dir, "cache"))
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(fx.SourceDateEpoch, 10))
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	rss, err := testtools.PeakRSS(t, cmd)
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("harden build: %v\n%s", err, output.Bytes())
	}
	t.Logf("harden build of a %d MiB wheel: %.1fs, peak RSS %d MiB (bound %d MiB)", payload>>20, wall.Seconds(), rss>>20, limit>>20)
	if _, err := os.Stat(filepath.Join(out, "oci", "index.json")); err != nil {
		t.Fatalf("harden build wrote no OCI layout: %v\n%s", err, output.Bytes())
	}
	if rss > limit {
		t.Errorf("harden build peaked at %d MiB resident building a %d MiB wheel; the bound is %d MiB", rss>>20, payload>>20, limit>>20)
	}
}
