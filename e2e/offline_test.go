package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// TestVerifyOfflineInEmptyNetns exports a signed and attested image and
// verifies the export inside a new network namespace that has nothing but
// its own loopback: no route to the registry, TUF or the logs. It passes
// there, and fails there for a wrong identity.
func TestVerifyOfflineInEmptyNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	require(t, os.Geteuid() == 0, "a new network namespace needs root")
	_, uerr := exec.LookPath("unshare")
	_, ierr := exec.LookPath("ip")
	require(t, uerr == nil && ierr == nil, "unshare (util-linux) and ip (iproute2) are needed")
	fx := fixture.Load(t)
	st := sigstoretest.Start(t)
	reg := registrytest.StartReferrers(t)
	base := pushBase(t, fx, reg)
	p := buildPublish(t, fx, reg, base, "offline", "")
	pr, out, rel := p.pr, p.out, p.rel
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	signing := []string{"--config", pr.Config, "--out", out, "--identity-token-file", tok, "--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath}
	for _, args := range [][]string{
		append([]string{"sign"}, signing...),
		{"sbom", "--config", pr.Config, "--out", out},
		append([]string{"attest"}, signing...),
	} {
		if r := run(t, []string{epoch}, args...); r.code != 0 {
			t.Fatalf("%s: %s", args[0], r)
		}
	}
	exp := filepath.Join(t.TempDir(), "export")
	if r := run(t, nil, "export", rel.Image, "--out", exp); r.code != 0 {
		t.Fatalf("export: %s", r)
	}
	verify := func(identity string) result {
		script := `ip link set lo up && exec "$@"`
		cmd := exec.Command("unshare", "--net", "sh", "-c", script, "sh", hardenBin(t), "verify", "--layout", exp, "--offline",
			"--trusted-root", st.TrustedRootPath, "--certificate-identity", identity, "--certificate-oidc-issuer", st.Issuer.URL(), "-o", "json")
		return runCmd(t, cmd, []string{"DOCKER_CONFIG=" + t.TempDir()})
	}
	r := verify(signerEmail)
	if r.code != 0 {
		t.Fatalf("verify in an empty network namespace: %s", r)
	}
	var rep struct {
		Image    string
		Verified bool
		Checks   []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Verified || rep.Image != rel.Image || len(rep.Checks) < 7 {
		t.Fatalf("report: %s", r.stdout)
	}
	if r := verify("mallory@example.com"); r.code != 1 || !strings.Contains(r.stdout, "mallory@example.com") {
		t.Fatalf("wrong identity in the namespace: %s", r)
	}
}
