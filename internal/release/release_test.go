package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/scan"
	"github.com/harden-dev/harden/internal/scan/vulndb"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/vsa"
)

const signer = "release@example.com"

// env is what every release in these tests shares.
type env struct {
	fx    *fixture.Fixture
	reg   string
	base  string
	st    *sigstoretest.Stack
	rc    *registry.Client
	cache string
	// vulndb is the offline vulnerability database of the scan stage.
	vulndb string
}

func setup(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("release pipeline: skipped in -short mode")
	}
	fx := fixture.Load(t)
	if os.Geteuid() != 0 {
		if os.Getenv("HARDEN_REQUIRE_E2E") == "1" {
			t.Fatal("the smoke-test stage needs root for runc (HARDEN_REQUIRE_E2E=1)")
		}
		t.Skip("skipping: the smoke-test stage runs the image with runc, which needs root")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("skipping: the fixture image is linux/amd64 only")
	}
	reg := registrytest.StartReferrers(t)
	idx, err := fx.BaseIndex()
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.ParseReference(reg + "/library/python:fixture")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	vdb := t.TempDir()
	if err := vulndb.Write(vdb, vulndb.Fixture(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return &env{fx: fx, reg: reg, base: tag.Context().Digest(fx.BaseIndexDigest).String(),
		st: sigstoretest.Start(t), rc: registry.New(), cache: t.TempDir(), vulndb: vdb}
}

// options writes a project for repo into a fresh directory and returns
// release options for it.
func (e *env) options(t *testing.T, repo string) Options {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`name: pgcli
version: %s-r1
repository: %s
base: %s
requirements: requirements.in
lock: requirements.lock
user: {name: pgcli, uid: 10001, gid: 10001, home: /home/pgcli}
entrypoint: [pgcli]
source: {url: https://example.test/pgcli-container, revision: 0123456789abcdef0123456789abcdef01234567}
smoke:
  - name: version
    args: [--version]
    expect: {exitCode: 0, stdout: "Version: %s"}
# The fixture's pins have fixable high findings in this database; the
# gate here stops only on critical ones.
scan: {db: %s, failOn: critical}
`, e.fx.PgcliVersion, repo, e.base, e.fx.PgcliVersion, e.vulndb)
	for p, b := range map[string][]byte{"harden.yaml": []byte(cfg), "requirements.lock": mustRead(t, e.fx.Lock), "requirements.in": mustRead(t, e.fx.RequirementsIn)} {
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pr, err := project.Load(context.Background(), filepath.Join(dir, "harden.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(e.st.Issuer.Token(t, signer)), 0o600); err != nil {
		t.Fatal(err)
	}
	return Options{
		Project: pr, Out: filepath.Join(dir, "dist"), WheelDir: e.fx.WheelDir, CacheDir: e.cache,
		SourceDateEpoch: strconv.FormatInt(e.fx.SourceDateEpoch, 10), Runtime: "runc",
		Storage:  attach.Both,
		Signer:   attest.SignerParams{IdentityTokenFile: tok, TrustedRoot: e.st.TrustedRootPath, SigningConfig: e.st.SigningConfigPath},
		Registry: e.rc, HardenVersion: "test", Getenv: func(string) string { return "" },
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var errInjected = errors.New("injected failure")

// TestResume stops a release after each stage, as a crash or a failing
// service would, then runs it again: every rerun ends with the same
// digest and exactly one signature and one attestation of each type per
// manifest, in each layout. Before the publish stage nothing is in the
// registry; before the sign stage nothing is signed.
func TestResume(t *testing.T) {
	e := setup(t)
	if raceEnabled {
		t.Log("race detector on: stopping after publish and sign only; make test also runs every boundary without it")
	}
	ctx := context.Background()
	var want string
	for i, stage := range Stages {
		if raceEnabled && stage != StagePublish && stage != StageSign {
			continue
		}
		t.Run(stage, func(t *testing.T) {
			o := e.options(t, fmt.Sprintf("%s/resume/%s", e.reg, stage))
			o.AfterStage = func(s string) error {
				if s == stage {
					return errInjected
				}
				return nil
			}
			_, results, err := Run(ctx, o)
			var stop *StopError
			if !errors.As(err, &stop) || stop.Stage != stage || !errors.Is(err, errInjected) {
				t.Fatalf("first run: want a stop at %s, got %v", stage, err)
			}
			if len(results) != i+1 {
				t.Errorf("first run reported %d stages, want %d", len(results), i+1)
			}
			msg := err.Error()
			if !strings.Contains(msg, "to finish: ") {
				t.Errorf("the stop message does not say how to finish:\n%s", msg)
			}
			repo, _ := name.NewRepository(o.Project.Config.Repository)
			pushed := i >= indexOf(StagePublish)
			if pushed != strings.Contains(msg, "to roll back") {
				t.Errorf("stop after %s: roll-back advice present = %v, want %v:\n%s", stage, !pushed, pushed, msg)
			}
			if pushed && stop.Published == "" {
				t.Errorf("stop after %s does not name the published image", stage)
			}
			if !pushed {
				if tags, err := remote.List(repo); err == nil && len(tags) > 0 {
					t.Errorf("stop after %s left tags %v in the registry", stage, tags)
				}
			}
			if i < indexOf(StageSign) && stop.Published != "" {
				d, _ := name.NewDigest(stop.Published)
				f, err := attach.New(e.rc).Find(ctx, d)
				if err != nil {
					t.Fatal(err)
				}
				if len(f.Referrers)+len(f.Signatures)+len(f.Attestations) > 0 {
					t.Errorf("stop after %s: something was signed already", stage)
				}
			}

			o.AfterStage = nil
			rec, results, err := Run(ctx, o)
			if err != nil {
				t.Fatalf("rerun after a stop at %s: %v", stage, err)
			}
			if want == "" {
				want = rec.Digest
			}
			if rec.Digest != want {
				t.Errorf("rerun gave %s, want %s", rec.Digest, want)
			}
			for j, r := range results[:i+1] {
				// Preflight and lock always run; verify and record always run.
				if Stages[j] != StagePreflight && Stages[j] != StageLock && Stages[j] != StageVerify && Stages[j] != StageRecord && r.Status != "skipped" {
					t.Errorf("rerun after a stop at %s: stage %s is %q, want skipped (%s)", stage, r.Stage, r.Status, r.Detail)
				}
			}
			countEntries(t, e.rc, rec)
			validateRecord(t, filepath.Join(o.Out, "release.json"))
		})
	}
}

func indexOf(stage string) int {
	for i, s := range Stages {
		if s == stage {
			return i
		}
	}
	return -1
}

// countEntries asserts one signature and one attestation of each type
// per subject, in both layouts.
func countEntries(t *testing.T, rc *registry.Client, rec *Record, extra ...string) {
	t.Helper()
	subjects := []string{rec.Image}
	for _, p := range rec.Platforms {
		subjects = append(subjects, p.Image)
	}
	for _, s := range subjects {
		d, err := name.NewDigest(s)
		if err != nil {
			t.Fatal(err)
		}
		f, err := attach.New(rc).Find(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, r := range f.Referrers {
			per[r.Annotations[attach.AnnotationPredType]]++
		}
		want := map[string]int{attest.CosignSignPredicateType: 1, "https://slsa.dev/provenance/v1": 1, "https://spdx.dev/Document": 1, "https://cyclonedx.org/bom": 1,
			scan.PredicateType: 1}
		for _, p := range extra {
			want[p]++
		}
		if fmt.Sprint(per) != fmt.Sprint(want) {
			t.Errorf("%s: referrers by predicate type %v, want %v", d.DigestStr()[:19], per, want)
		}
		if len(f.Signatures) != 1 || len(f.Attestations) != 4+len(extra) {
			t.Errorf("%s: legacy layout has %d signature(s) and %d attestation(s), want 1 and %d", d.DigestStr()[:19], len(f.Signatures), len(f.Attestations), 4+len(extra))
		}
	}
}

// validateRecord checks release.json against docs/release-record.schema.json.
func validateRecord(t *testing.T, path string) {
	t.Helper()
	schemaPath := filepath.Join("..", "..", "docs", "release-record.schema.json")
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	fh, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	s, err := jsonschema.UnmarshalJSON(fh)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("release-record.schema.json", s); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("release-record.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s does not validate against the schema:\n%v", path, err)
	}
	var rec Record
	if err := json.Unmarshal(doc, &rec); err != nil {
		t.Fatal(err)
	}
	if !rec.Verification.Verified || len(rec.Signatures) == 0 || len(rec.Attestations) == 0 || len(rec.SBOMs) != 2 {
		t.Errorf("release record is missing proof: %+v", rec.Verification)
	}
}

// TestRereleaseKeepsOneAttestationPerFact releases, adds a comment to
// harden.yaml (new inputs, same image digest) and releases again to the
// same repository: the second release keeps the first one's provenance,
// SBOMs and scan instead of attaching a second set.
func TestRereleaseKeepsOneAttestationPerFact(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	o := e.options(t, e.reg+"/rerelease/pgcli")
	first, _, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(o.Project.Config.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("# a comment changes the inputs, not the image\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pr, err := project.Load(ctx, o.Project.Config.Path, "")
	if err != nil {
		t.Fatal(err)
	}
	o.Project = pr
	second, results, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if second.Digest != first.Digest {
		t.Fatalf("a comment changed the image: %s, then %s", first.Digest, second.Digest)
	}
	for _, r := range results {
		if r.Stage == StageAttest && (r.Status != "skipped" || !strings.Contains(r.Detail, "already present")) {
			t.Errorf("attest stage of the re-release: %s (%s)", r.Status, r.Detail)
		}
	}
	countEntries(t, e.rc, second)
	validateRecord(t, filepath.Join(o.Out, "release.json"))

	// The same build released to another repository with a key: the
	// same entries in the registry and in the record, and a summary
	// without a column of dashes.
	kp, err := sign.GenerateKey(filepath.Join(t.TempDir(), "cosign"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	o.Repository = e.reg + "/rerelease-key/pgcli"
	o.Signer = attest.SignerParams{KeyPath: kp.Private, TrustedRoot: e.st.TrustedRootPath, SigningConfig: e.st.SigningConfigPath}
	o.Getenv = func(k string) string { return map[string]string{sign.PasswordEnv: "pw"}[k] }
	o.VSA = true
	keyed, results, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	countEntries(t, e.rc, keyed, vsa.PredicateType)
	if !keyed.Verification.VSA || !vsa.IsDigest(keyed.Verification.PolicyDigest) {
		t.Errorf("the record does not name the VSA and its policy: %+v", keyed.Verification)
	}
	if len(keyed.Signatures) != len(second.Signatures) || len(keyed.Attestations) != len(second.Attestations) {
		t.Errorf("keyless record: %d signatures, %d attestations; key record: %d, %d",
			len(second.Signatures), len(second.Attestations), len(keyed.Signatures), len(keyed.Attestations))
	}
	for _, r := range results {
		if r.Stage == StageBuild && r.Status != "skipped" {
			t.Errorf("the key release rebuilt: %+v", r)
		}
	}
	md, err := os.ReadFile(filepath.Join(o.Out, "release.md"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(md), "| – | – |") || !strings.Contains(string(md), "key sha256:") {
		t.Errorf("release.md of the key release:\n%s", md)
	}
	validateRecord(t, filepath.Join(o.Out, "release.json"))
}

// TestGateFailureNeverPushes: the SBOMs and the scan run on the local
// build, so an image the gate rejects is not in the registry, and a
// missing identity token stops the release before the build.
func TestGateFailureNeverPushes(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	o := e.options(t, e.reg+"/gate/pgcli")
	o.Scan.Gate.FailOn = "high" // the fixture's pins have fixable high findings
	_, results, err := Run(ctx, o)
	var stop *StopError
	if !errors.As(err, &stop) || stop.Stage != StageScan || stop.Published != "" {
		t.Fatalf("want a stop at the scan stage with nothing published, got %v", err)
	}
	for _, r := range results {
		if r.Stage == StagePublish {
			t.Errorf("the publish stage ran: %+v", r)
		}
	}
	repo, _ := name.NewRepository(o.Project.Config.Repository)
	if tags, err := remote.List(repo); err == nil && len(tags) > 0 {
		t.Errorf("tags in the registry: %v", tags)
	}
	if d := o.Out; d != "" {
		st, err := dist.Dir(d).ReadState()
		if err != nil || st.Digest == "" {
			t.Fatalf("state %+v %v", st, err)
		}
		if _, err := remote.Head(repo.Digest(st.Digest)); err == nil {
			t.Errorf("%s is in the registry after a failed gate", st.Digest)
		}
	}
	if !strings.Contains(err.Error(), "nothing was pushed to "+repo.String()) {
		t.Errorf("the stop does not say nothing was pushed:\n%v", err)
	}

	o = e.options(t, e.reg+"/gate/notoken")
	o.Signer.IdentityTokenFile = ""
	_, results, err = Run(ctx, o)
	if !errors.As(err, &stop) || stop.Stage != StagePreflight || !strings.Contains(err.Error(), "no identity token") {
		t.Fatalf("no token: want a stop at the preflight, got %v", err)
	}
	if len(results) != 1 {
		t.Errorf("no token: %d stages ran", len(results))
	}
	if _, err := os.Stat(o.Out); err == nil {
		t.Errorf("no token: %s was written", o.Out)
	}
}
