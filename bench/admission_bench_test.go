package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/admission"
	"github.com/harden-dev/harden/internal/admission/admissiontest"
	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// BenchmarkAdmission times one admission decision on one image with each
// engine's own CLI: the full policy (signature, SLSA provenance and SPDX
// SBOM by the release identity, with the provenance conditions) against
// the --from-vsa policy (one verification summary by the verifier). The
// image is the fixture release and carries all of them, in both storage
// layouts, signed with the local Sigstore stack; the policies read the
// legacy layout, which both engines read here. Each iteration is one
// process: kyverno apply with a Pod, or policy-controller's tester. The
// startup sub-benchmarks run the VSA policy on an image it does not
// govern: the process's own cost, with no registry or signature work.
// The vsa sub-benchmarks report full/vsa, the full policy's time per
// decision over the VSA policy's, and full/vsa-net, the same with the
// startup time taken off both.
func BenchmarkAdmission(b *testing.B) {
	kyverno, tester := engineTool(b, "kubectl-kyverno"), engineTool(b, "policy-tester")
	ctx := context.Background()
	st := sigstoretest.Start(b)
	res := buildtest.Build(b, buildtest.Options{Registry: registrytest.Start(b, nil)})
	store := attach.New(res.Client)
	noenv := func(string) string { return "" }
	attester := func(email string) *attest.Attester {
		s, err := attest.NewSigner(ctx, attest.SignerParams{IdentityToken: st.Issuer.Token(b, email),
			TrustedRoot: st.TrustedRootPath, SigningConfig: st.SigningConfigPath, Getenv: noenv})
		if err != nil {
			b.Fatal(err)
		}
		return &attest.Attester{Signer: s, Store: store, Storage: attach.Both}
	}
	const releaser, verifier = "release@example.com", "verifier@example.com"
	rel := res.Release
	subs, err := subjects(rel)
	if err != nil {
		b.Fatal(err)
	}
	release := attester(releaser)
	if _, err := release.Sign(ctx, subs); err != nil {
		b.Fatal(err)
	}
	facts := &attest.Facts{Record: res.Record, Release: rel, SBOMs: res.SBOMs(b, rel.Repository)}
	stmts, err := attest.Statements(attest.Params{Config: res.Config, HardenVersion: "bench", Getenv: noenv}, facts,
		[]string{attest.TypeSLSA, attest.TypeSPDX})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := release.Attest(ctx, stmts); err != nil {
		b.Fatal(err)
	}
	v, err := admissiontest.VSA{Release: rel, TimeVerified: time.Now().Add(-time.Minute), Result: admission.VSAPassed,
		Levels: []string{"SLSA_BUILD_LEVEL_1"}}.Attestation()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := attester(verifier).Attest(ctx, []attest.Statement{v}); err != nil {
		b.Fatal(err)
	}

	trust, err := admission.LoadTrust(st.TrustedRootPath)
	if err != nil {
		b.Fatal(err)
	}
	// The local stack runs Rekor v2, whose entries the legacy layout
	// cannot carry: the policies rely on the RFC 3161 timestamps.
	full := admission.Params{Name: "pgcli", Repositories: []string{rel.Repository}, Issuer: st.Issuer.URL(), Subject: releaser,
		UID: res.Config.User.UID, Format: admission.FormatLegacy, Trust: trust, IgnoreTlog: true}
	fromVSA := full
	fromVSA.Subject = verifier
	fromVSA.VSA = &admission.VSARequirement{MaxAge: admission.DefaultVSAMaxAge, Level: admission.DefaultVSALevel}

	dir := b.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		return p
	}
	podFor := func(file, image string) string {
		return write(file, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: pgcli, namespace: default}\nspec:\n  containers:\n    - {name: pgcli, image: \""+image+"\"}\n"))
	}
	ungoverned := "registry.example/other@sha256:" + strings.Repeat("0", 64)
	pods := map[bool]string{true: podFor("pod.yaml", rel.Image), false: podFor("pod-ungoverned.yaml", ungoverned)}
	home := "HOME=" + dir

	engines := []struct {
		name string
		gen  func(admission.Params) ([]byte, error)
		// cmd writes the policy and returns the command that decides on
		// the release (governed) or on an image the policy does not
		// govern.
		cmd func(name string, policy []byte, governed bool) func() *exec.Cmd
	}{
		{"kyverno", admission.Kyverno, func(name string, policy []byte, governed bool) func() *exec.Cmd {
			p := write("kyverno-"+name+".yaml", policy)
			return func() *exec.Cmd { return exec.Command(kyverno, "apply", p, "--resource", pods[governed]) }
		}},
		{"policy-controller", admission.PolicyController, func(name string, policy []byte, governed bool) func() *exec.Cmd {
			docs := strings.Split(string(policy), "\n---\n")
			if len(docs) != 2 {
				b.Fatalf("policy-controller %s: want a TrustRoot and a ClusterImagePolicy, got %d documents", name, len(docs))
			}
			tr := write("pc-"+name+"-trustroot.yaml", []byte(docs[0]))
			cip := write("pc-"+name+".yaml", []byte(docs[1]))
			image := rel.Image
			if !governed {
				image = ungoverned
			}
			return func() *exec.Cmd {
				return exec.Command(tester, "-policy", cip, "-trustroot", tr, "-image", image)
			}
		}},
	}
	for _, e := range engines {
		per := map[string]time.Duration{}
		for _, c := range []struct {
			name     string
			p        admission.Params
			governed bool
		}{{"startup", fromVSA, false}, {"full", full, true}, {"vsa", fromVSA, true}} {
			policy, err := e.gen(c.p)
			if err != nil {
				b.Fatal(err)
			}
			cmd := e.cmd(c.name, policy, c.governed)
			b.Run(e.name+"/"+c.name, func(b *testing.B) {
				start := time.Now()
				for b.Loop() {
					decide(b, e.name, cmd(), home, c.governed)
				}
				per[c.name] = time.Since(start) / time.Duration(b.N)
				if c.name != "vsa" || per["full"] == 0 {
					return
				}
				ratio := float64(per["full"]) / float64(per["vsa"])
				b.ReportMetric(ratio, "full/vsa")
				net := "n/a"
				if fn, vn := per["full"]-per["startup"], per["vsa"]-per["startup"]; per["startup"] > 0 && vn > 0 {
					b.ReportMetric(float64(fn)/float64(vn), "full/vsa-net")
					net = fmt.Sprintf("%.2fx", float64(fn)/float64(vn))
				}
				b.Logf("%s per decision: startup %v, full policy %v, VSA policy %v: %.2fx, %s without the startup",
					e.name, per["startup"].Round(time.Millisecond), per["full"].Round(time.Millisecond), per["vsa"].Round(time.Millisecond), ratio, net)
			})
		}
	}
}

var kyvernoSummary = regexp.MustCompile(`pass: (\d+), fail: (\d+), warn: \d+, error: (\d+), skip: \d+`)

// decide runs one decision. On a governed image it fails unless the
// engine admitted it; on another, unless the engine left it alone.
func decide(b *testing.B, engine string, cmd *exec.Cmd, home string, governed bool) {
	b.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), home)
	err := cmd.Run()
	if !governed {
		m := kyvernoSummary.FindStringSubmatch(out.String())
		if (engine == "kyverno" && (err != nil || m == nil || m[2] != "0" || m[3] != "0")) ||
			(engine != "kyverno" && !strings.Contains(out.String(), "is uncovered by policy")) {
			b.Fatalf("%s on an image the policy does not govern: %v\n%s", engine, err, out.String())
		}
		return
	}
	if engine == "kyverno" {
		m := kyvernoSummary.FindStringSubmatch(out.String())
		if err != nil || m == nil || m[1] == "0" || m[2] != "0" || m[3] != "0" {
			b.Fatalf("kyverno did not admit the image: %v\n%s", err, out.String())
		}
		return
	}
	if err != nil {
		b.Fatalf("policy-controller did not admit the image: %v\n%s", err, out.String())
	}
}

// engineTool returns an admission engine's CLI, built into
// $HARDEN_TOOLS_DIR or .cache/tools by make engines. Without one the
// benchmark skips, or fails when HARDEN_REQUIRE_E2E=1.
func engineTool(b *testing.B, name string) string {
	b.Helper()
	for _, d := range []string{os.Getenv("HARDEN_TOOLS_DIR"), filepath.Join("..", ".cache", "tools")} {
		if d == "" {
			continue
		}
		p, err := filepath.Abs(filepath.Join(d, name))
		if err != nil {
			b.Fatal(err)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("HARDEN_REQUIRE_E2E") == "1" {
		b.Fatalf("%s is not built; run make engines (HARDEN_REQUIRE_E2E=1)", name)
	}
	b.Skipf("skipping: %s is not built; run make engines to build it from the Go module proxy", name)
	return ""
}

// subjects are the index and each platform manifest of a release.
func subjects(rel *dist.Release) ([]name.Digest, error) {
	refs := []string{rel.Image}
	for _, p := range rel.Platforms {
		refs = append(refs, p.Image)
	}
	var out []name.Digest
	for _, r := range refs {
		d, err := name.NewDigest(r)
		if err != nil {
			return nil, fmt.Errorf("release record: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}
