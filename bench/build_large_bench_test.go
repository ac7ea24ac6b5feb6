package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/testtools"
	"github.com/harden-dev/harden/internal/wheel/bigwheel"
)

// largeSizes are the payloads of BenchmarkBuildLarge: from a small model
// to a CUDA build of torch.
var largeSizes = []struct {
	name  string
	bytes int64
}{{"256MiB", 256 << 20}, {"1GiB", 1 << 30}, {"4GiB", 4 << 30}}

// BenchmarkBuildLarge builds an image holding one wheel of incompressible
// data per size: harden build (offline, from --wheel-dir, cold cache)
// against pip install --target plus tar | gzip of the result, the plain
// chain that makes the same one layer. Besides ns/op it reports the
// child's peak resident memory (pip-tar-gzip: the largest of sh, pip,
// tar and gzip), throughput in payload MiB/s, and on harden the ratio of
// its wall time to the chain's. HARDEN_BENCH_LARGE_MAX (bytes, or a size
// such as 1GiB) skips the sizes above it; all run by default. harden is
// skipped at a size where its peak at the previous size, scaled up with
// the payload, would not fit in the memory available.
func BenchmarkBuildLarge(b *testing.B) {
	limit := largeMax(b)
	fx := fixture.Load(b)
	reg := registrytest.Start(b, nil)
	base := buildtest.PushBase(b, fx, reg)
	dir := b.TempDir()
	harden := hardenBinary(b, dir)
	hardenEnv := append(os.Environ(), "HOME="+dir, "DOCKER_CONFIG="+dir, "SOURCE_DATE_EPOCH="+strconv.FormatInt(fx.SourceDateEpoch, 10))
	pipErr := exec.Command("python3", "-m", "pip", "--version").Run()
	if pipErr != nil && os.Getenv("HARDEN_REQUIRE_PIP") == "1" {
		b.Fatalf("HARDEN_REQUIRE_PIP=1 but python3 -m pip --version failed: %v", pipErr)
	}

	// The last harden run, to keep a build that grows with the payload
	// from taking the machine's memory.
	var lastPeak, lastSize int64
	for _, size := range largeSizes {
		b.Run(size.name, func(b *testing.B) {
			if size.bytes > limit {
				b.Skipf("skipping: %s is above HARDEN_BENCH_LARGE_MAX=%s", size.name, os.Getenv("HARDEN_BENCH_LARGE_MAX"))
			}
			wheels := b.TempDir()
			whl := filepath.Join(wheels, bigwheel.Filename("bigdata", "1.0"))
			sum, err := bigwheel.Write(whl, "bigdata", "1.0", size.bytes, 1)
			if err != nil {
				b.Fatalf("write the %s wheel: %v", size.name, err)
			}
			proj := buildtest.LargeProject(b, fx, base, reg+"/org/big", sum)

			// The chain runs first so that harden can report the ratio.
			var pip largeStats
			b.Run("pip-tar-gzip", func(b *testing.B) {
				if pipErr != nil {
					b.Skipf("skipping: python3 -m pip --version failed (%v): no pip to compare with", pipErr)
				}
				pip = benchLarge(b, size.bytes, func(i int) (*exec.Cmd, func()) {
					target := filepath.Join(proj, fmt.Sprintf("pip-%d", i))
					tgz := target + ".tar.gz"
					cmd := exec.Command("sh", "-c", `python3 -m pip install --quiet --no-deps --no-compile --no-index --disable-pip-version-check --target "$1" "$2" && tar -C "$1" -cf - . | gzip > "$3"`,
						"sh", target, whl, tgz)
					cmd.Env = pipEnv()
					return cmd, func() {
						// sh reports only gzip's status; a short archive
						// means tar failed.
						if fi, err := os.Stat(tgz); err != nil || fi.Size() < size.bytes {
							b.Fatalf("pip-tar-gzip wrote no full archive at %s (%v)", tgz, err)
						}
						removeAll(b, target, tgz)
					}
				})
			})
			b.Run("harden", func(b *testing.B) {
				if lastPeak > 0 {
					need := float64(lastPeak) * float64(size.bytes) / float64(lastSize)
					if avail := memAvailable(); avail > 0 && need > float64(avail) {
						b.Skipf("skipping: harden peaked at %d MiB building %d MiB; at that rate %s needs %.0f MiB, more than the %d MiB available",
							lastPeak>>20, lastSize>>20, size.name, need/(1<<20), avail>>20)
					}
				}
				hard := benchLarge(b, size.bytes, func(i int) (*exec.Cmd, func()) {
					out, cache := filepath.Join(proj, fmt.Sprintf("out-%d", i)), filepath.Join(proj, "cache")
					cmd := exec.Command(harden, "build", "--config", filepath.Join(proj, "harden.yaml"), "--out", out,
						"--wheel-dir", wheels, "--cache-dir", cache)
					cmd.Env = hardenEnv
					return cmd, func() {
						if _, err := os.Stat(filepath.Join(out, "oci", "index.json")); err != nil {
							b.Fatalf("harden build wrote no OCI layout: %v", err)
						}
						// Every iteration starts with a cold wheel cache, as pip
						// has none.
						removeAll(b, out, cache)
					}
				})
				lastPeak, lastSize = hard.peak, size.bytes
				if pip.runs == 0 {
					return
				}
				// Logged here, not in the parent: go test prints a leaf
				// benchmark's log even without -v.
				ratio := hard.perRun().Seconds() / pip.perRun().Seconds()
				b.ReportMetric(ratio, "ratio")
				b.Logf("BuildLarge %s: harden %.1fs, peak RSS %d MiB; pip+tar+gzip %.1fs, %d MiB; ratio %.2f", size.name,
					hard.perRun().Seconds(), hard.peak>>20, pip.perRun().Seconds(), pip.peak>>20, ratio)
			})
		})
	}
}

// largeStats sums the runs of one side of BenchmarkBuildLarge.
type largeStats struct {
	runs int
	wall time.Duration
	peak int64 // bytes, the largest of the runs
}

func (s largeStats) perRun() time.Duration { return s.wall / time.Duration(s.runs) }

// benchLarge runs the command next(i) returns once per iteration, under
// the maxrss tool, timing only the command, then its cleanup, and reports
// peak-RSS-MiB and MiB/s.
func benchLarge(b *testing.B, payload int64, next func(i int) (*exec.Cmd, func())) largeStats {
	b.Helper()
	var s largeStats
	for b.Loop() {
		b.StopTimer()
		cmd, cleanup := next(s.runs)
		b.StartTimer()
		wall, peak := runMeasured(b, cmd)
		b.StopTimer()
		cleanup()
		b.StartTimer()
		s.runs++
		s.wall += wall
		s.peak = max(s.peak, peak)
	}
	b.ReportMetric(float64(s.peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(payload)/(1<<20)/s.perRun().Seconds(), "MiB/s")
	return s
}

// runMeasured runs cmd under the maxrss tool and returns its wall time
// and peak resident memory in bytes: the largest of the process and of
// the children it waited for.
func runMeasured(b *testing.B, cmd *exec.Cmd) (time.Duration, int64) {
	b.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	peak, err := testtools.PeakRSS(b, cmd)
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("%s: %v (peak RSS %d MiB; a kill signal may mean out of memory)\n%s", strings.Join(cmd.Args[2:], " "), err, peak>>20, lastBytes(out.Bytes(), 8<<10))
	}
	return wall, peak
}

// largeMax is HARDEN_BENCH_LARGE_MAX in bytes: a number with an
// optional unit (KiB, MiB, GiB, TiB or K, M, G, T, all powers of 1024;
// B), or no limit when unset.
func largeMax(b *testing.B) int64 {
	b.Helper()
	s := strings.TrimSpace(os.Getenv("HARDEN_BENCH_LARGE_MAX"))
	if s == "" {
		return 1<<63 - 1
	}
	num := strings.TrimRight(s, "KMGTiBkmgtib")
	unit := strings.ToLower(s[len(num):])
	shift := map[string]uint{"": 0, "b": 0, "k": 10, "kib": 10, "m": 20, "mib": 20, "g": 30, "gib": 30, "t": 40, "tib": 40}
	sh, ok := shift[unit]
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if !ok || err != nil || n < 0 {
		b.Fatalf("HARDEN_BENCH_LARGE_MAX=%q: want bytes or a size such as 512MiB or 1GiB", s)
	}
	return n << sh
}

// pipEnv isolates pip from the host's configuration.
func pipEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PIP_") {
			env = append(env, kv)
		}
	}
	return append(env, "PIP_CONFIG_FILE="+os.DevNull)
}

// memAvailable is MemAvailable from /proc/meminfo in bytes, 0 when
// unknown.
func memAvailable() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib << 10
		}
	}
	return 0
}

func removeAll(b *testing.B, paths ...string) {
	b.Helper()
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			b.Fatal(err)
		}
	}
}

func lastBytes(p []byte, n int) []byte {
	if len(p) > n {
		return p[len(p)-n:]
	}
	return p
}
