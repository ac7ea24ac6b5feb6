package rebuild

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/pep740/pep740test"
	"github.com/harden-dev/harden/internal/provenance"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/wheel/wheeltest"
)

// A rebuild verifies the PyPI attestations of the wheels the provenance
// records again, with the recorded publishers pinned, before building.
func TestRebuildChecksUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local Sigstore stack")
	}
	st := sigstoretest.Start(t)
	dir := t.TempDir()
	const fn, other = "purepkg-1.0-py3-none-any.whl", "otherpkg-2.0-py3-none-any.whl"
	sum := wheeltest.Write(t, dir, fn, "purepkg", "1.0", wheeltest.Member{Name: "purepkg/__init__.py", Data: "\n"})
	otherSum := wheeltest.Write(t, dir, other, "otherpkg", "2.0", wheeltest.Member{Name: "otherpkg/__init__.py", Data: "\n"})
	ix, err := pep740test.NewIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := sigstoretest.GitHubClaims{Repository: "org/purepkg", Workflow: "release.yml", Ref: "refs/tags/v1.0", SHA: strings.Repeat("b", 40)}
	if err := ix.AttestProject(t.Context(), st, c, "purepkg"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ix.Handler())
	defer srv.Close()

	inputs := func(rec *lock.FileProvenance) *provenance.Inputs {
		return &provenance.Inputs{Config: &config.Config{Platforms: []string{"linux/amd64"}}, LockPath: "requirements.lock", Wheels: []provenance.Wheel{
			{Name: "purepkg", Version: "1.0", Filename: fn, SHA256: sum, Platforms: []string{"linux/amd64"}, Upstream: rec},
			{Name: "otherpkg", Version: "2.0", Filename: other, SHA256: otherSum, Platforms: []string{"linux/amd64"}},
		}}
	}
	recorded := func(repo string) *lock.FileProvenance {
		return &lock.FileProvenance{Filename: fn, SHA256: sum, Attested: true, Publisher: lock.Publisher{Kind: lock.PublisherGitHub, Repository: repo, Workflow: "release.yml"}}
	}
	check := func(in *provenance.Inputs, indexURL string) (string, error) {
		var log []string
		err := checkUpstream(t.Context(), Options{IndexURL: indexURL, UpstreamTrustedRoot: st.TrustedRootPath, HTTPClient: srv.Client()}, in, t.TempDir(),
			func(f string, a ...any) { log = append(log, fmt.Sprintf(f, a...)) })
		return strings.Join(log, "\n"), err
	}

	log, err := check(inputs(recorded("org/purepkg")), srv.URL+"/simple/")
	if err != nil || !strings.Contains(log, "upstream provenance: 1 of 2 pins attested") || !strings.Contains(log, "GitHub org/purepkg release.yml: purepkg 1.0") {
		t.Errorf("recorded publisher: %v\n%s", err, log)
	}
	_, err = check(inputs(recorded("org/impostor")), srv.URL+"/simple/")
	if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "not rebuilt: upstream provenance: 1 violation") ||
		!strings.Contains(err.Error(), "purepkg 1.0 ("+fn+"): attested by another publisher than the one pinned; expected GitHub org/impostor release.yml") {
		t.Errorf("another publisher: %v", err)
	}
	// The attestation is gone from the index.
	ix2, _ := pep740test.NewIndex(dir)
	srv2 := httptest.NewServer(ix2.Handler())
	defer srv2.Close()
	if _, err := check(inputs(recorded("org/purepkg")), srv2.URL+"/simple/"); err == nil || !strings.Contains(err.Error(), "purepkg 1.0") {
		t.Errorf("attestation removed: %v", err)
	}
	// Without --index-url, the index the build recorded is asked before
	// the config's (a closed port here); --index-url wins over both.
	in := inputs(recorded("org/purepkg"))
	in.Config.Index.URL = "http://127.0.0.1:1/simple/"
	in.Wheels[0].Index = srv.URL + "/simple/"
	if log, err := check(in, ""); err != nil || !strings.Contains(log, "GitHub org/purepkg release.yml: purepkg 1.0") {
		t.Errorf("recorded index: %v\n%s", err, log)
	}
	in.Wheels[0].Index = "http://127.0.0.1:1/simple/"
	if _, err := check(in, ""); err == nil {
		t.Error("an unreachable recorded index was not asked")
	}
	if _, err := check(in, srv.URL+"/simple/"); err != nil {
		t.Errorf("--index-url over the recorded index: %v", err)
	}
	// Nothing recorded: nothing is asked (a closed port would fail).
	if _, err := check(inputs(nil), "http://127.0.0.1:1/simple/"); err != nil {
		t.Errorf("no records: %v", err)
	}
}
