package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/cosign/v3/pkg/cosign/attestation"

	"github.com/harden-dev/harden/internal/scan/vulndb"
	"github.com/harden-dev/harden/internal/testtools"
)

// BenchmarkRelease: harden release against the same stages done by the
// peer CLIs, same machine, same local Sigstore and registry, one run.
// harden resumes from a finished build (the peers start from the same OCI
// layout, and its smoke test passed in the warm-up run, as the peers run
// none; the warm-up's SBOMs and scan reports are removed) and runs the
// rest: preflight, lock check, SBOMs with the lock cross-check, the
// vulnerability scan with its gate, push, sign, attest ×4 (SLSA
// provenance, SPDX, CycloneDX, the scan), self-verify and the record.
// The peer chain is crane push of the layout, one syft run writing SPDX
// and CycloneDX, grype scanning the SPDX SBOM (failing on critical, as
// harden's gate does) against the same offline database (imported into
// grype's cache beforehand, untimed; no update check), cosign sign and
// cosign attest ×4 (slsaprovenance1, spdxjson, cyclonedx, and vuln with
// grype's JSON report as the result of cosign's vuln predicate). Every
// iteration targets a fresh repository and starts timing at a random
// point of the log's second (randomPhase). Per-stage times of harden are
// reported as metrics.
func BenchmarkRelease(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipping: harden release runs the smoke tests with runc, which needs root")
	}
	st, cosign, reg, res, dir, harden, cfg, home := signingSetup(b)
	crane, syft, grype := testtools.Path(b, "crane"), testtools.Path(b, "syft"), testtools.Path(b, "grype")
	// The scan stage reads an offline database of real advisories, as the
	// tests do (no download); the fixture's findings pass a critical gate.
	vdb := filepath.Join(dir, "vulndb")
	if err := vulndb.Write(vdb, vulndb.Fixture(), time.Now()); err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = fmt.Fprintf(f, "scan: {db: %s, failOn: critical}\n", vdb)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		b.Fatalf("add the scan database to %s: %v", cfg, err)
	}
	// grype reads the same database from its own cache, installed the way
	// grype installs an offline database, and never looks for another.
	grypeEnv := append(slices.Clone(home), "GRYPE_DB_CACHE_DIR="+filepath.Join(dir, "grype-db"), "GRYPE_DB_AUTO_UPDATE=false",
		"GRYPE_CHECK_FOR_APP_UPDATE=false")
	runTool(b, grypeEnv, grype, "db", "import", filepath.Join(vdb, "vulnerability.db"))
	// The epoch of the fixture build, so harden rebuilds the very image
	// the peers push.
	home = append(home, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", res.Fixture.SourceDateEpoch))
	trust := []string{"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath}
	tok := func() string {
		p := filepath.Join(dir, "token")
		if err := os.WriteFile(p, []byte(st.Issuer.Token(b, "bench@example.com")), 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	// The build output, with a release state saying it is built: copied
	// per iteration so that each release starts after the build stage.
	warm := filepath.Join(dir, "warm")
	runTool(b, home, harden, "release", "--config", cfg, "--out", warm, "--wheel-dir", res.Fixture.WheelDir,
		"--repo", reg+"/bench/warmup", "--identity-token-file", tok(), "--progress", "plain", "--runtime", "runc", trust[0], trust[1], trust[2], trust[3])
	var state struct{ Digest string }
	if raw, err := os.ReadFile(filepath.Join(warm, "release-state.json")); err != nil || json.Unmarshal(raw, &state) != nil || state.Digest != res.Ref.DigestStr() {
		b.Fatalf("harden built %q, the peers push %s (%v)", state.Digest, res.Ref.DigestStr(), err)
	}
	prov := provenancePredicate(b, res, dir)
	n := 0
	stages := map[string]float64{}
	b.Run("harden", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			n++
			out := filepath.Join(dir, fmt.Sprintf("out-%d", n))
			copyTree(b, warm, out)
			for _, f := range []string{"release.json", "release.md", "sbom", "scan"} {
				os.RemoveAll(filepath.Join(out, f))
			}
			args := append([]string{"release", "--config", cfg, "--out", out, "--wheel-dir", res.Fixture.WheelDir, "--runtime", "runc",
				"--repo", fmt.Sprintf("%s/bench/harden-release-%d", reg, n), "--storage", "both", "--identity-token-file", tok(), "-o", "json"}, trust...)
			randomPhase()
			b.StartTimer()
			stdout := runOut(b, home, harden, args...)
			b.StopTimer()
			sc := bufio.NewScanner(bytes.NewReader(stdout))
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			for sc.Scan() {
				var ev struct {
					Type, Stage string
					Seconds     float64
				}
				if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type == "end" {
					stages[ev.Stage] += ev.Seconds
				}
			}
			b.StartTimer()
		}
		keys := make([]string, 0, len(stages))
		for k := range stages {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.ReportMetric(stages[k]/float64(b.N), k+"-s/op")
		}
	})
	b.Run("peers", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			n++
			repo := fmt.Sprintf("%s/bench/peers-%d", reg, n)
			work := filepath.Join(dir, fmt.Sprintf("peer-%d", n))
			if err := os.MkdirAll(work, 0o755); err != nil {
				b.Fatal(err)
			}
			spdx, cdx := filepath.Join(work, "sbom.spdx.json"), filepath.Join(work, "sbom.cdx.json")
			report, vuln := filepath.Join(work, "grype.json"), filepath.Join(work, "vuln.json")
			t := tok()
			co := append([]string{"--yes", "--identity-token", t, "--allow-http-registry"}, trust...)
			randomPhase()
			b.StartTimer()
			runTool(b, home, crane, "push", "--index", "--insecure", filepath.Join(res.Out, "oci"), repo)
			ref := repo + "@" + res.Ref.DigestStr()
			runTool(b, append(home, "SYFT_CHECK_FOR_APP_UPDATE=false"), syft, "scan", "oci-dir:"+filepath.Join(res.Out, "oci"),
				"-o", "spdx-json="+spdx, "-o", "cyclonedx-json="+cdx)
			started := time.Now().UTC()
			runTool(b, grypeEnv, grype, "sbom:"+spdx, "--fail-on", "critical", "-o", "json", "--file", report)
			vulnPredicate(b, report, vuln, started, time.Now().UTC())
			runTool(b, home, cosign, append(append([]string{"sign"}, co...), ref)...)
			for _, a := range [][2]string{{"slsaprovenance1", prov}, {"spdxjson", spdx}, {"cyclonedx", cdx}, {"vuln", vuln}} {
				runTool(b, home, cosign, append(append([]string{"attest", "--type", a[0], "--predicate", a[1]}, co...), ref)...)
			}
		}
	})
}

// vulnPredicate writes cosign's vuln predicate for a grype JSON report:
// the report is the scanner's result, as cosign attest --type vuln
// expects it.
func vulnPredicate(b *testing.B, report, out string, started, finished time.Time) {
	b.Helper()
	raw, err := os.ReadFile(report)
	if err != nil {
		b.Fatal(err)
	}
	var doc struct {
		Descriptor struct {
			Version string
			DB      struct {
				Status struct{ SchemaVersion, Path string }
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		b.Fatalf("grype report %s: %v", report, err)
	}
	pred := attestation.CosignVulnPredicate{
		Scanner: attestation.Scanner{URI: "https://github.com/anchore/grype", Version: doc.Descriptor.Version,
			DB: attestation.DB{URI: "file://" + doc.Descriptor.DB.Status.Path, Version: doc.Descriptor.DB.Status.SchemaVersion}, Result: json.RawMessage(raw)},
		Metadata: attestation.Metadata{ScanStartedOn: started, ScanFinishedOn: finished},
	}
	data, err := json.Marshal(pred)
	if err == nil {
		err = os.WriteFile(out, data, 0o644)
	}
	if err != nil {
		b.Fatal(err)
	}
}

func runOut(b *testing.B, env []string, bin string, args ...string) []byte {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

func copyTree(b *testing.B, from, to string) {
	b.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		b.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
}
