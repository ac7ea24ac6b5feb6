package pep740

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// Real published files whose attestations are in testdata (README.md there
// says where each comes from).
const (
	ghFile     = "pypi_attestations-0.0.19.tar.gz"
	ghSHA      = "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3"
	googleFile = "gcb_attestation_test-0.0.0.tar.gz"
	googleSHA  = "461317362419124b6012e855423a9078d6de8aed3e74fa78cc74d669b23dc6cf"
	glFile     = "gitlab_oidc_project-0.0.3.tar.gz"
	glSHA      = "c1ca9b0d85df1606451098233018534497bf584362e10e4a8c21dfaea92c02a8"
	// rekor.sigstore.dev's log ID, hex of wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=.
	rekorLogID = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
)

var ghPublisher = Publisher{Kind: KindGitHub, Repository: "trailofbits/pypi-attestations", Workflow: "release.yml"}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func publicGood(t testing.TB) *root.TrustedRoot {
	t.Helper()
	tr, err := root.NewTrustedRootFromJSON(readTestdata(t, "trusted_root_public_good.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func mustParse(t testing.TB, data []byte) *Provenance {
	t.Helper()
	p, err := ParseBytes(data)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

// mutate decodes a provenance object, lets f change it, and encodes it.
func mutate(t testing.TB, data []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func bundleOf(m map[string]any, i int) map[string]any {
	return m["attestation_bundles"].([]any)[i].(map[string]any)
}

func attOf(m map[string]any, b, a int) map[string]any {
	return bundleOf(m, b)["attestations"].([]any)[a].(map[string]any)
}

// compose builds a provenance object of one bundle from attestation objects.
func compose(t testing.TB, publisher map[string]any, atts ...[]byte) []byte {
	t.Helper()
	var list []any
	for _, a := range atts {
		var v any
		if err := json.Unmarshal(a, &v); err != nil {
			t.Fatal(err)
		}
		list = append(list, v)
	}
	out, err := json.Marshal(map[string]any{
		"version":             1,
		"attestation_bundles": []any{map[string]any{"publisher": publisher, "attestations": list}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ghPublishAttestation is the attestation object inside the real provenance.
func ghPublishAttestation(t testing.TB) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readTestdata(t, ghFile+".provenance"), &m); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(attOf(m, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyRealGitHubProvenance(t *testing.T) {
	p := mustParse(t, readTestdata(t, ghFile+".provenance"))
	res, err := Verify(context.Background(), p, ghFile, ghSHA, publicGood(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Attestations) != 1 {
		t.Fatalf("got %d attestations, want 1", len(res.Attestations))
	}
	v := res.Attestations[0]
	if v.Publisher != ghPublisher {
		t.Errorf("publisher %+v, want %+v", v.Publisher, ghPublisher)
	}
	if v.PredicateType != PublishPredicateType {
		t.Errorf("predicate type %q", v.PredicateType)
	}
	wantCert := CertificateIdentity{
		Issuer:                 GitHubIssuer,
		SubjectAlternativeName: "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
		SourceRepositoryURI:    "https://github.com/trailofbits/pypi-attestations",
		SourceRepositoryRef:    "refs/tags/v0.0.19",
		SourceRepositoryDigest: "08802efe1f8e5fec4ad842d6b8ce97656092ee72",
		BuildConfigURI:         "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
	}
	if v.Certificate != wantCert {
		t.Errorf("certificate %+v, want %+v", v.Certificate, wantCert)
	}
	integrated := time.Unix(1733354041, 0).UTC()
	wantLog := []LogEntry{{LogIndex: 153454663, IntegratedTime: integrated, LogID: rekorLogID, Kind: "dsse", Version: "0.0.1"}}
	if !slices.Equal(v.LogEntries, wantLog) {
		t.Errorf("log entries %+v, want %+v", v.LogEntries, wantLog)
	}
	if !slices.Equal(v.Times, []time.Time{integrated}) {
		t.Errorf("times %v, want [%v]", v.Times, integrated)
	}
	if got := res.Publishers(); !slices.Equal(got, []Publisher{ghPublisher}) {
		t.Errorf("publishers %v", got)
	}
	if got := res.PredicateTypes(); !slices.Equal(got, []string{PublishPredicateType}) {
		t.Errorf("predicate types %v", got)
	}
	if res.Filename != ghFile || res.SHA256 != ghSHA {
		t.Errorf("result names %s %s", res.Filename, res.SHA256)
	}
}

func TestVerifyRealGoogleProvenance(t *testing.T) {
	p := mustParse(t, readTestdata(t, googleFile+".provenance"))
	res, err := Verify(context.Background(), p, googleFile, googleSHA, publicGood(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Publisher{Kind: KindGoogle, Email: "919436158236-compute@developer.gserviceaccount.com"}
	if got := res.Publishers(); !slices.Equal(got, []Publisher{want}) {
		t.Errorf("publishers %v, want %v", got, want)
	}
	v := res.Attestations[0]
	if v.Certificate.Issuer != GoogleIssuer || v.Certificate.SubjectAlternativeName != want.Email {
		t.Errorf("certificate %+v", v.Certificate)
	}
	if len(v.LogEntries) != 1 || v.LogEntries[0].LogIndex != 200170367 || !v.LogEntries[0].IntegratedTime.Equal(time.Unix(1745247747, 0)) {
		t.Errorf("log entries %+v", v.LogEntries)
	}

	// Another service account is another publisher.
	other := mutate(t, readTestdata(t, googleFile+".provenance"), func(m map[string]any) {
		bundleOf(m, 0)["publisher"].(map[string]any)["email"] = "attacker@example.iam.gserviceaccount.com"
	})
	_, err = Verify(context.Background(), mustParse(t, other), googleFile, googleSHA, publicGood(t), Options{})
	wantErr(t, err, ErrPublisher, "attacker@example.iam.gserviceaccount.com", "subject 919436158236-compute@developer.gserviceaccount.com")
}

func TestVerifyComposedGitLab(t *testing.T) {
	pub := map[string]any{"kind": "GitLab", "repository": "facutuesca/gitlab-oidc-project", "workflow_filepath": ".gitlab-ci.yml", "environment": nil}
	data := compose(t, pub, readTestdata(t, glFile+".publish.attestation"))
	res, err := Verify(context.Background(), mustParse(t, data), glFile, glSHA, publicGood(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Publisher{Kind: KindGitLab, Repository: "facutuesca/gitlab-oidc-project", Workflow: ".gitlab-ci.yml"}
	if got := res.Publishers(); !slices.Equal(got, []Publisher{want}) {
		t.Errorf("publishers %v", got)
	}
	if got := res.Attestations[0].Certificate.BuildConfigURI; got != "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main" {
		t.Errorf("build config %q", got)
	}

	pub["workflow_filepath"] = "release/.gitlab-ci.yml"
	_, err = Verify(context.Background(), mustParse(t, compose(t, pub, readTestdata(t, glFile+".publish.attestation"))), glFile, glSHA, publicGood(t), Options{})
	wantErr(t, err, ErrPublisher, "right repository, wrong workflow", "release/.gitlab-ci.yml", "workflow .gitlab-ci.yml")
}

func TestVerifyPublishAndSLSA(t *testing.T) {
	pub := map[string]any{"kind": "GitHub", "repository": ghPublisher.Repository, "workflow": ghPublisher.Workflow, "environment": nil}
	data := compose(t, pub, ghPublishAttestation(t), readTestdata(t, ghFile+".slsa.attestation"))
	res, err := Verify(context.Background(), mustParse(t, data), ghFile, ghSHA, publicGood(t), Options{Expect: &ghPublisher})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.PredicateTypes(); !slices.Equal(got, []string{PublishPredicateType, SLSAPredicateType}) {
		t.Errorf("predicate types %v", got)
	}
	if len(res.Attestations) != 2 || res.Attestations[1].Index != 1 || res.Attestations[1].LogEntries[0].LogIndex != 153454647 {
		t.Errorf("attestations %+v", res.Attestations)
	}
}

func TestVerifyNormalisedFilename(t *testing.T) {
	p := mustParse(t, readTestdata(t, ghFile+".provenance"))
	// PEP 740 matches names by parsing: case, separators and an equal
	// PEP 440 version are the same distribution.
	for _, fn := range []string{"PyPI-Attestations-0.0.19.tar.gz", "pypi.attestations-0.0.19.0.tar.gz"} {
		if _, err := Verify(context.Background(), p, fn, strings.ToUpper(ghSHA), publicGood(t), Options{}); err != nil {
			t.Errorf("%s: %v", fn, err)
		}
	}
}

// wantErr checks err is a failed check (exit 1) wrapping target whose
// message names every part.
func wantErr(t *testing.T, err, target error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("verified, want %v", target)
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, target) {
		t.Fatalf("error %q is not %v", err, target)
	}
	if code := errs.ExitCode(err); code != errs.CodeCheckFailed {
		t.Errorf("exit code %d, want %d", code, errs.CodeCheckFailed)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	real := readTestdata(t, ghFile+".provenance")
	flipB64 := func(s string, i int) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		b[i] ^= 0x01
		return base64.StdEncoding.EncodeToString(b)
	}
	setPublisher := func(k, v string) func(map[string]any) {
		return func(m map[string]any) { bundleOf(m, 0)["publisher"].(map[string]any)[k] = v }
	}
	cases := []struct {
		name     string
		data     []byte
		file     string
		sha      string
		opts     Options
		empty    bool
		root     string // a key to drop from the trusted root
		target   error
		messages []string
	}{
		{
			name: "tampered signature",
			data: mutate(t, real, func(m map[string]any) {
				env := attOf(m, 0, 0)["envelope"].(map[string]any)
				env["signature"] = flipB64(env["signature"].(string), 20)
			}),
			target:   ErrVerification,
			messages: []string{ghFile, "attestation 1 of bundle 1"},
		},
		{
			name: "tampered statement",
			data: mutate(t, real, func(m map[string]any) {
				env := attOf(m, 0, 0)["envelope"].(map[string]any)
				env["statement"] = flipB64(env["statement"].(string), 100)
			}),
			target: ErrVerification,
		},
		{
			name: "tampered integrated time",
			data: mutate(t, real, func(m map[string]any) {
				vm := attOf(m, 0, 0)["verification_material"].(map[string]any)
				vm["transparency_entries"].([]any)[0].(map[string]any)["integratedTime"] = "1733354042"
			}),
			target: ErrVerification,
		},
		{
			name: "unverifiable RFC 3161 timestamp",
			data: mutate(t, real, func(m map[string]any) {
				attOf(m, 0, 0)["verification_material"].(map[string]any)["timestamps"] = []any{"MIIBAA=="}
			}),
			target:   ErrVerification,
			messages: []string{"RFC 3161 timestamp"},
		},
		{
			name:     "wrong publisher repository",
			data:     mutate(t, real, setPublisher("repository", "someone-else/pypi-attestations")),
			target:   ErrPublisher,
			messages: []string{"the provenance names GitHub someone-else/pypi-attestations release.yml", "repository https://github.com/trailofbits/pypi-attestations", "issuer " + GitHubIssuer},
		},
		{
			name:     "right repository wrong workflow",
			data:     mutate(t, real, setPublisher("workflow", "publish.yml")),
			target:   ErrPublisher,
			messages: []string{"right repository, wrong workflow", "GitHub trailofbits/pypi-attestations publish.yml", "workflow release.yml", "release.yml@refs/tags/v0.0.19"},
		},
		{
			name: "GitLab publisher for a GitHub certificate",
			data: mutate(t, real, func(m map[string]any) {
				bundleOf(m, 0)["publisher"] = map[string]any{"kind": "GitLab", "repository": "trailofbits/pypi-attestations", "workflow_filepath": ".gitlab-ci.yml"}
			}),
			target:   ErrPublisher,
			messages: []string{"GitLab trailofbits/pypi-attestations .gitlab-ci.yml", "issuer " + GitHubIssuer},
		},
		{
			name:     "unsupported publisher kind",
			data:     mutate(t, real, setPublisher("kind", "ActiveState")),
			target:   ErrPublisher,
			messages: []string{`publisher kind "ActiveState" is not supported`},
		},
		{
			name:     "subject for another file",
			data:     real,
			file:     "pypi_attestations-0.0.20.tar.gz",
			target:   ErrSubject,
			messages: []string{`the statement is about "pypi_attestations-0.0.19.tar.gz", not "pypi_attestations-0.0.20.tar.gz"`},
		},
		{
			name:     "wheel of the same release",
			data:     real,
			file:     "pypi_attestations-0.0.19-py3-none-any.whl",
			target:   ErrSubject,
			messages: []string{"not \"pypi_attestations-0.0.19-py3-none-any.whl\""},
		},
		{
			name:     "subject for another digest",
			data:     real,
			sha:      strings.Repeat("ab", 32),
			target:   ErrSubject,
			messages: []string{"sha256 " + ghSHA, "the lock has " + strings.Repeat("ab", 32)},
		},
		{
			name:     "empty trusted root",
			data:     real,
			empty:    true,
			target:   ErrVerification,
			messages: []string{"the trusted root lists none of the transparency logs of its entries (log IDs " + rekorLogID + ")"},
		},
		{
			name:     "trusted root without the Fulcio CA",
			data:     real,
			root:     "certificateAuthorities",
			target:   ErrVerification,
			messages: []string{"failed to verify leaf certificate"},
		},
		{
			name:     "expected publisher differs",
			data:     real,
			opts:     Options{Expect: &Publisher{Kind: KindGitHub, Repository: "trailofbits/other", Workflow: "release.yml"}},
			target:   ErrPublisher,
			messages: []string{"the provenance names GitHub trailofbits/pypi-attestations release.yml, expected GitHub trailofbits/other release.yml"},
		},
		{
			name:     "expected environment absent",
			data:     real,
			opts:     Options{Expect: &Publisher{Kind: KindGitHub, Repository: ghPublisher.Repository, Workflow: ghPublisher.Workflow, Environment: "pypi"}},
			target:   ErrPublisher,
			messages: []string{"expected GitHub trailofbits/pypi-attestations release.yml (environment pypi)"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file, sha := ghFile, ghSHA
			if c.file != "" {
				file = c.file
			}
			if c.sha != "" {
				sha = c.sha
			}
			var tm root.TrustedMaterial = publicGood(t)
			if c.empty {
				tm = &root.TrustedRoot{}
			}
			if c.root != "" {
				data := mutate(t, readTestdata(t, "trusted_root_public_good.json"), func(m map[string]any) { delete(m, c.root) })
				tr, err := root.NewTrustedRootFromJSON(data)
				if err != nil {
					t.Fatal(err)
				}
				tm = tr
			}
			res, err := Verify(context.Background(), mustParse(t, c.data), file, sha, tm, c.opts)
			if res != nil {
				t.Errorf("got a result with an error")
			}
			wantErr(t, err, c.target, c.messages...)
		})
	}
}

func TestVerifyExpectedPublisherMatches(t *testing.T) {
	p := mustParse(t, readTestdata(t, ghFile+".provenance"))
	if _, err := Verify(context.Background(), p, ghFile, ghSHA, publicGood(t), Options{Expect: &ghPublisher}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyBadArguments(t *testing.T) {
	p := mustParse(t, readTestdata(t, ghFile+".provenance"))
	tr := publicGood(t)
	cases := []struct {
		name    string
		prov    *Provenance
		file    string
		sha     string
		tm      root.TrustedMaterial
		opts    Options
		message string
	}{
		{"no provenance", nil, ghFile, ghSHA, tr, Options{}, "no provenance"},
		{"no root", p, ghFile, ghSHA, nil, Options{}, "no trusted root"},
		{"nil root", p, ghFile, ghSHA, (*root.TrustedRoot)(nil), Options{}, "no trusted root"},
		{"not a distribution", p, "pypi_attestations-0.0.19.egg", ghSHA, tr, Options{}, "is not a wheel (.whl) or sdist"},
		{"short digest", p, ghFile, ghSHA[:60], tr, Options{}, "is not a sha256 hex digest"},
		{"bad expected publisher", p, ghFile, ghSHA, tr, Options{Expect: &Publisher{Kind: "Buildkite"}}, `publisher kind "Buildkite" is not supported`},
		{"incomplete expected publisher", p, ghFile, ghSHA, tr, Options{Expect: &Publisher{Kind: KindGitHub, Repository: "a/b"}}, "incomplete"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(context.Background(), c.prov, c.file, c.sha, c.tm, c.opts)
			if err == nil || errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), c.message) {
				t.Fatalf("error %v (exit %d), want input error saying %q", err, errs.ExitCode(err), c.message)
			}
		})
	}
}

func TestVerifyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Verify(ctx, mustParse(t, readTestdata(t, ghFile+".provenance")), ghFile, ghSHA, publicGood(t), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestBundleConversion(t *testing.T) {
	p := mustParse(t, readTestdata(t, ghFile+".provenance"))
	a := &p.Bundles[0].Attestations[0]
	b, err := a.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	if b.GetMediaType() != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("media type %q", b.GetMediaType())
	}
	env := b.GetDsseEnvelope()
	if env.GetPayloadType() != InTotoPayloadType || string(env.GetPayload()) != string(a.Statement) ||
		len(env.GetSignatures()) != 1 || string(env.GetSignatures()[0].GetSig()) != string(a.Signature) {
		t.Errorf("envelope %v", env)
	}
	vm := b.GetVerificationMaterial()
	if string(vm.GetCertificate().GetRawBytes()) != string(a.Certificate) {
		t.Error("certificate not carried over")
	}
	if len(vm.GetTlogEntries()) != 1 || vm.GetTlogEntries()[0].GetLogIndex() != 153454663 ||
		vm.GetTlogEntries()[0].GetInclusionProof().GetTreeSize() != 31550402 {
		t.Errorf("tlog entries %v", vm.GetTlogEntries())
	}
	if vm.GetTimestampVerificationData() != nil {
		t.Error("timestamp data without timestamps")
	}
	a.Timestamps = [][]byte{[]byte("ts1"), []byte("ts2")}
	b2, err := a.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	ts := b2.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()
	if len(ts) != 2 || string(ts[0].GetSignedTimestamp()) != "ts1" || string(ts[1].GetSignedTimestamp()) != "ts2" {
		t.Errorf("timestamps %v", ts)
	}
	// The bundle holds copies: changing it leaves the attestation alone.
	vm.GetTlogEntries()[0].LogIndex = 1
	if a.TransparencyEntries[0].GetLogIndex() != 153454663 {
		t.Error("bundle shares the attestation's log entry")
	}
}
