package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/provenance"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/release"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/testtools"
)

// signingSetup starts the local Sigstore and a referrers registry, builds
// and publishes the fixture image, and builds harden; it returns what the
// signing benchmarks share.
func signingSetup(b *testing.B) (st *sigstoretest.Stack, cosign, reg string, res *buildtest.Result, dir, harden, cfg string, home []string) {
	b.Helper()
	st = sigstoretest.Start(b)
	cosign = testtools.Path(b, "cosign")
	reg = registrytest.StartReferrers(b)
	res = buildtest.Build(b, buildtest.Options{Registry: reg})
	dir = b.TempDir()
	harden = hardenBinary(b, dir)
	cfg = filepath.Join(filepath.Dir(res.Out), "harden.yaml")
	home = []string{"HOME=" + dir, "DOCKER_CONFIG=" + dir}
	return
}

// hardenBinary builds the CLI into dir.
func hardenBinary(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "harden")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/harden-dev/harden/cmd/harden").CombinedOutput(); err != nil {
		b.Fatalf("go build harden: %v\n%s", err, out)
	}
	return bin
}

func runTool(b *testing.B, env []string, bin string, args ...string) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// BenchmarkSignAttest signs the fixture image and attests it with SLSA
// provenance, SPDX and CycloneDX, against the local Sigstore stack and an
// in-process registry: harden (one sign and one attest process, or one
// attest --sign process, which logs everything in one batch; it signs
// the index and the platform manifest and writes the chosen layouts; the
// SBOMs come from the sbom stage's files, as cosign's predicates do)
// against the cosign CLI (sign plus three
// attest processes on the index, with predicates prepared beforehand).
// Every iteration publishes the image to a fresh repository first
// (untimed), so nothing is ever already signed, and starts timing at a
// random point of the log's second (randomPhase).
func BenchmarkSignAttest(b *testing.B) {
	st, cosign, reg, res, dir, harden, cfg, home := signingSetup(b)

	provPath := provenancePredicate(b, res, dir)
	sbomDir := filepath.Join(dir, "sbom")
	runTool(b, home, harden, "sbom", "--config", cfg, "--out", res.Out, "--dir", sbomDir)
	spdx, _ := filepath.Glob(filepath.Join(sbomDir, "*.spdx.json"))
	cdx, _ := filepath.Glob(filepath.Join(sbomDir, "*.cdx.json"))
	if len(spdx) == 0 || len(cdx) == 0 {
		b.Fatalf("harden sbom wrote no files in %s", sbomDir)
	}

	n := 0
	fresh := func(tool string) (name.Digest, string) {
		n++
		repo, err := name.NewRepository(fmt.Sprintf("%s/bench/%s-%d", reg, tool, n))
		if err != nil {
			b.Fatal(err)
		}
		ref := repo.Digest(res.Ref.DigestStr())
		if err := remote.WriteIndex(ref, res.Index); err != nil {
			b.Fatal(err)
		}
		rel := *res.Release
		rel.Image, rel.Repository = ref.String(), repo.String()
		rel.Platforms = nil
		for _, p := range res.Release.Platforms {
			p.Image = repo.Digest(p.Digest).String()
			rel.Platforms = append(rel.Platforms, p)
		}
		// The sbom stage runs before attest in a release; its files are
		// named for the repository, so make them for this one (untimed, as
		// cosign's predicates are prepared beforehand too).
		if _, err := release.WriteSBOMs(context.Background(), release.SBOMOptions{Out: dist.Dir(res.Out), Repository: repo.String(), Version: "bench"}); err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("release-%d.json", n))
		data, _ := json.Marshal(&rel)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		return ref, path
	}

	trust := []string{"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath}
	for _, mode := range []struct{ name, storage string }{{"both", "both"}, {"referrers", "referrers"}, {"both/attest-sign", "both"}, {"referrers/attest-sign", "referrers"}} {
		storage, oneProcess := mode.storage, strings.HasSuffix(mode.name, "/attest-sign")
		b.Run("harden/"+mode.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				_, relPath := fresh("harden")
				tok := filepath.Join(dir, "token")
				if err := os.WriteFile(tok, []byte(st.Issuer.Token(b, "bench@example.com")), 0o600); err != nil {
					b.Fatal(err)
				}
				common := append([]string{"--config", cfg, "--out", res.Out, "--record", relPath, "--storage", storage, "--identity-token-file", tok}, trust...)
				randomPhase()
				b.StartTimer()
				if oneProcess {
					runTool(b, home, harden, append([]string{"attest", "--sign"}, common...)...)
					continue
				}
				runTool(b, home, harden, append([]string{"sign"}, common...)...)
				runTool(b, home, harden, append([]string{"attest"}, common...)...)
			}
		})
	}
	b.Run("cosign", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			ref, _ := fresh("cosign")
			tok := filepath.Join(dir, "cosign-token")
			if err := os.WriteFile(tok, []byte(st.Issuer.Token(b, "bench@example.com")), 0o600); err != nil {
				b.Fatal(err)
			}
			common := append([]string{"--yes", "--identity-token", tok, "--allow-http-registry"}, trust...)
			randomPhase()
			b.StartTimer()
			runTool(b, home, cosign, append(append([]string{"sign"}, common...), ref.String())...)
			for _, a := range [][2]string{{"slsaprovenance1", provPath}, {"spdxjson", spdx[0]}, {"cyclonedx", cdx[0]}} {
				runTool(b, home, cosign, append(append([]string{"attest", "--type", a[0], "--predicate", a[1]}, common...), ref.String())...)
			}
		}
	})
}

// randomPhase waits, untimed, a random part of a second. The local Rekor
// v2 log answers an upload when it next polls its own checkpoint, once a
// second, so how long a signing command waits depends on when in that
// second it uploads. Without this, the untimed setup of each iteration
// (an in-process SBOM, a copy of the build) would fix that phase,
// differently for each tool, and the comparison would measure the
// setup's length.
func randomPhase() { time.Sleep(rand.N(time.Second)) }

// BenchmarkVerify verifies the signed fixture image: harden verify (all
// signatures, provenance, SBOM consistency, config) against the cosign
// chain `verify` + `verify-attestation --type slsaprovenance1` +
// `verify-attestation --type spdxjson`, same image, same registry.
func BenchmarkVerify(b *testing.B) {
	st, cosign, _, res, dir, harden, cfg, home := signingSetup(b)
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(b, "bench@example.com")), 0o600); err != nil {
		b.Fatal(err)
	}
	common := []string{"--config", cfg, "--out", res.Out, "--storage", "referrers", "--identity-token-file", tok,
		"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath}
	runTool(b, home, harden, append([]string{"sign"}, common...)...)
	runTool(b, home, harden, "sbom", "--config", cfg, "--out", res.Out) // what attest attests
	runTool(b, home, harden, append([]string{"attest"}, common...)...)
	id := []string{"--certificate-identity", "bench@example.com", "--certificate-oidc-issuer", st.Issuer.URL(), "--trusted-root", st.TrustedRootPath}
	img := res.Ref.String()
	b.Run("harden", func(b *testing.B) {
		for b.Loop() {
			runTool(b, home, harden, append([]string{"verify", img}, id...)...)
		}
	})
	b.Run("cosign", func(b *testing.B) {
		c := append(id, "--allow-http-registry", "--insecure-ignore-sct")
		for b.Loop() {
			runTool(b, home, cosign, append(append([]string{"verify"}, c...), img)...)
			runTool(b, home, cosign, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, c...), img)...)
			runTool(b, home, cosign, append(append([]string{"verify-attestation", "--type", "spdxjson"}, c...), img)...)
		}
	})
}

// provenancePredicate writes the SLSA predicate harden would attest, for
// cosign attest --predicate, and returns its path.
func provenancePredicate(b *testing.B, res *buildtest.Result, dir string) string {
	b.Helper()
	st0, err := provenance.Statement(provenance.Params{Record: res.Record, Repository: res.Repo.String(),
		Builder: provenance.Builder{ID: provenance.LocalBuilderID, Version: map[string]string{"harden": "bench"}}})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := provenance.Marshal(st0)
	if err != nil {
		b.Fatal(err)
	}
	var stmt struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(raw, &stmt); err != nil {
		b.Fatal(err)
	}
	provPath := filepath.Join(dir, "provenance.json")
	if err := os.WriteFile(provPath, stmt.Predicate, 0o644); err != nil {
		b.Fatal(err)
	}
	return provPath
}
