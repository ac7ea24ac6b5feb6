package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/testtools"
)

// TestDistRelease runs the release program (make dist) for linux/amd64 on
// this checkout, signing keyless with the local Sigstore stack, and
// checks the release as users do: SHA256SUMS and the provenance verify
// with harden verify-blob (the one under test and the released binary
// itself) and with cosign, sha256sum --check passes, and the provenance
// names exactly the binaries with their digests.
func TestDistRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	st := sigstoretest.Start(t)
	cosign := testtools.Path(t, "cosign")
	harden := hardenBin(t)
	root := distModuleRoot(t)
	tmp := t.TempDir()
	distBin := filepath.Join(tmp, "dist")
	if out, err := exec.Command("go", "build", "-o", distBin, "github.com/harden-dev/harden/tools/dist").CombinedOutput(); err != nil {
		t.Fatalf("go build tools/dist: %v\n%s", err, out)
	}
	tok := filepath.Join(tmp, "token")
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	const version = "v0.0.0-e2e"
	rel := filepath.Join(tmp, "release")
	// -allow-dirty: a developer's work tree may hold uncommitted changes;
	// CI's clean clone records none either way.
	cmd := exec.Command(distBin, "-src", root, "-out", rel, "-version", version, "-platforms", "linux/amd64", "-allow-dirty",
		"-identity-token-file", tok, "-trusted-root", st.TrustedRootPath, "-signing-config", st.SigningConfigPath)
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=", "GITLAB_CI=", "SIGSTORE_ID_TOKEN=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dist: %v\n%s", err, out)
	}
	bin := "harden_" + version + "_linux_amd64"
	if got := distListDir(t, rel); !slices.Equal(got, []string{"SHA256SUMS", "SHA256SUMS.sigstore.json", "harden.intoto.sigstore.json", bin}) {
		t.Fatalf("release holds %q", got)
	}
	path := func(f string) string { return filepath.Join(rel, f) }
	sum := distSHA256(t, path(bin))
	if b, _ := os.ReadFile(path("SHA256SUMS")); string(b) != sum+"  "+bin+"\n" {
		t.Fatalf("SHA256SUMS is %q", b)
	}
	check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	check.Dir = rel
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum --check: %v\n%s", err, out)
	}

	id := []string{"--certificate-identity", signerEmail, "--certificate-oidc-issuer", st.Issuer.URL(), "--trusted-root", st.TrustedRootPath}
	verifyBlob := func(h, file, bundle string, extra ...string) result {
		args := append([]string{"verify-blob", path(file), "--bundle", path(bundle)}, id...)
		return runCmd(t, exec.Command(h, append(args, extra...)...), nil)
	}
	// The harden under test, and the released binary itself.
	for _, h := range []string{harden, path(bin)} {
		if r := verifyBlob(h, "SHA256SUMS", "SHA256SUMS.sigstore.json"); r.code != 0 || !strings.HasSuffix(r.stdout, "verified\n") {
			t.Fatalf("%s verify-blob SHA256SUMS: %s", h, r)
		}
		if r := verifyBlob(h, bin, "harden.intoto.sigstore.json"); r.code != 0 {
			t.Fatalf("%s verify-blob %s against the provenance: %s", h, bin, r)
		}
	}
	if r := runCmd(t, exec.Command(path(bin), "version"), nil); r.code != 0 || !strings.HasPrefix(r.stdout, "harden "+version+" ") {
		t.Fatalf("the released binary's version: %s", r)
	}
	r := verifyBlob(harden, bin, "harden.intoto.sigstore.json", "-o", "json")
	var res struct {
		Verified      bool
		PredicateType string
		Subjects      []string
		Signer        struct{ Subject, Issuer string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if !res.Verified || res.PredicateType != "https://slsa.dev/provenance/v1" || res.Signer.Subject != signerEmail ||
		!slices.Equal(res.Subjects, []string{bin + "@sha256:" + sum}) {
		t.Fatalf("verify-blob -o json: %+v", res)
	}
	// The statement itself: one subject per binary, with its platform.
	var bundle struct {
		DSSEEnvelope struct{ Payload []byte } `json:"dsseEnvelope"`
	}
	raw, _ := os.ReadFile(path("harden.intoto.sigstore.json"))
	var stmt struct {
		Subject []struct {
			Name        string
			Digest      map[string]string
			Annotations map[string]string
		}
		Predicate struct {
			BuildDefinition struct{ BuildType string }
		}
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bundle.DSSEEnvelope.Payload, &stmt); err != nil {
		t.Fatal(err)
	}
	if len(stmt.Subject) != 1 || stmt.Subject[0].Name != bin || stmt.Subject[0].Digest["sha256"] != sum ||
		stmt.Subject[0].Annotations["platform"] != "linux/amd64" ||
		stmt.Predicate.BuildDefinition.BuildType != "https://github.com/harden-dev/harden/blob/main/docs/buildtype.md#go-binary-v1" {
		t.Fatalf("statement %+v", stmt)
	}

	// cosign, as users and the install script run it: v3 reads the
	// bundle format without --new-bundle-format; it accepts the flag too.
	cid := append(slices.Clone(id), "--insecure-ignore-sct")
	for _, args := range [][]string{
		append([]string{"verify-blob", path("SHA256SUMS"), "--bundle", path("SHA256SUMS.sigstore.json")}, cid...),
		append([]string{"verify-blob", path("SHA256SUMS"), "--bundle", path("SHA256SUMS.sigstore.json"), "--new-bundle-format"}, cid...),
		append([]string{"verify-blob-attestation", path(bin), "--bundle", path("harden.intoto.sigstore.json"), "--type", "slsaprovenance1"}, cid...),
	} {
		if out, err := cosignCLI(t, cosign, args...); err != nil {
			t.Fatalf("cosign %s: %v\n%s", strings.Join(args[:1], " "), err, out)
		}
	}

	t.Run("failures", func(t *testing.T) {
		tampered := filepath.Join(t.TempDir(), bin)
		if err := os.WriteFile(tampered, []byte("not the released binary"), 0o755); err != nil {
			t.Fatal(err)
		}
		other := sigstoretest.Start(t)
		withID := func(args ...string) []string { return append(append([]string{"verify-blob"}, args...), id...) }
		for _, c := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"wrong identity", []string{"verify-blob", path("SHA256SUMS"), "--certificate-identity", "mallory@example.com", "--certificate-oidc-issuer", st.Issuer.URL(), "--trusted-root", st.TrustedRootPath},
				1, "identity check failed: signed by " + signerEmail + ", not mallory@example.com\n"},
			{"wrong issuer", []string{"verify-blob", path("SHA256SUMS"), "--certificate-identity", signerEmail, "--certificate-oidc-issuer", "https://accounts.example.com", "--trusted-root", st.TrustedRootPath},
				1, "issuer check failed: the certificate's OIDC issuer is " + st.Issuer.URL() + ", not https://accounts.example.com\n"},
			{"tampered binary", withID(tampered, "--bundle", path("harden.intoto.sigstore.json")), 1,
				"subject check failed: the statement is about " + bin + "@sha256:" + sum + ", not " + tampered},
			{"bundle of another file", withID(path(bin), "--bundle", path("SHA256SUMS.sigstore.json")), 1,
				"digest check failed: the bundle signs sha256:" + distSHA256(t, path("SHA256SUMS")) + ", but " + path(bin) + " has sha256:" + sum},
			{"untrusted root", []string{"verify-blob", path("SHA256SUMS"), "--certificate-identity", signerEmail, "--certificate-oidc-issuer", st.Issuer.URL(), "--trusted-root", other.TrustedRootPath},
				1, "tlog check failed: its transparency log entry does not verify against the logs of the trusted root " + other.TrustedRootPath},
			{"no signer named", []string{"verify-blob", path("SHA256SUMS"), "--trusted-root", st.TrustedRootPath}, 2, "say who must have signed: "},
			{"key and identity", withID(path("SHA256SUMS"), "--key", path("SHA256SUMS")), 2, "--key and the certificate identity flags exclude each other"},
			{"missing bundle", withID(path(bin)), 2, "read bundle: open " + path(bin) + ".sigstore.json: no such file or directory"},
			{"not a bundle", withID(path("SHA256SUMS"), "--bundle", path("SHA256SUMS")), 2, path("SHA256SUMS") + " is not a Sigstore bundle: "},
			{"no file", []string{"verify-blob"}, 2, "accepts 1 arg(s), received 0"},
			{"sign-blob over itself", []string{"sign-blob", path("SHA256SUMS"), "--bundle", path("SHA256SUMS")}, 2,
				"--bundle " + path("SHA256SUMS") + " is the file being signed; write the bundle elsewhere"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := runCmd(t, exec.Command(harden, c.args...), nil)
				if r.code != c.code || !strings.Contains(r.stderr, c.want) || (c.code == 1 && !strings.Contains(r.stderr, " is NOT verified by ")) {
					t.Fatalf("want exit %d and %q in stderr; got %s", c.code, c.want, r)
				}
			})
		}
		t.Run("TUF unreachable", func(t *testing.T) {
			// The public-good root is fetched through a proxy that
			// refuses: nothing leaves the machine.
			env := []string{"HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir(), "HTTPS_PROXY=http://127.0.0.1:1", "https_proxy=http://127.0.0.1:1", "NO_PROXY=", "no_proxy="}
			r := runCmd(t, exec.Command(harden, "verify-blob", path("SHA256SUMS"), "--certificate-identity", signerEmail, "--certificate-oidc-issuer", st.Issuer.URL()), env)
			if r.code != 3 || !strings.Contains(r.stderr, "harden: the public-good Sigstore trusted root could not be fetched through TUF: ") ||
				!strings.HasSuffix(r.stderr, "; pass --trusted-root FILE (a trusted_root.json) to verify without it\n") {
				t.Fatalf("want exit 3 naming --trusted-root; got %s", r)
			}
		})
		t.Run("json names the failed check", func(t *testing.T) {
			r := runCmd(t, exec.Command(harden, withID(tampered, "--bundle", path("harden.intoto.sigstore.json"), "-o", "json")...), nil)
			var out struct {
				Verified bool
				Failure  struct{ Check string }
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || out.Verified || out.Failure.Check != "subject" {
				t.Fatalf("%v: %s", err, r)
			}
		})
	})

	t.Run("sign-blob", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(file, []byte("release notes\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCmd(t, exec.Command(harden, "sign-blob", file, "--identity-token-file", tok, "--trusted-root", st.TrustedRootPath,
			"--signing-config", st.SigningConfigPath, "-o", "json"), nil)
		if r.code != 0 {
			t.Fatalf("sign-blob: %s", r)
		}
		if strings.Contains(r.stdout+r.stderr, strings.Split(distRead(t, tok), ".")[1]) {
			t.Fatal("the identity token appears in sign-blob's output")
		}
		b := file + ".sigstore.json"
		if out, err := cosignCLI(t, cosign, append([]string{"verify-blob", file, "--bundle", b}, cid...)...); err != nil {
			t.Fatalf("cosign verify-blob of harden sign-blob's bundle: %v\n%s", err, out)
		}
		if r := runCmd(t, exec.Command(harden, append([]string{"verify-blob", file}, id...)...), nil); r.code != 0 {
			t.Fatalf("verify-blob with the default bundle name: %s", r)
		}
		// With a key from harden keygen.
		keys := filepath.Join(dir, "release")
		pw := []string{"COSIGN_PASSWORD=pw"}
		if r := runCmd(t, exec.Command(harden, "keygen", "--output-key-prefix", keys), pw); r.code != 0 {
			t.Fatalf("keygen: %s", r)
		}
		kb := filepath.Join(dir, "keyed.sigstore.json")
		if r := runCmd(t, exec.Command(harden, "sign-blob", file, "--bundle", kb, "--key", keys+".key", "--trusted-root", st.TrustedRootPath,
			"--signing-config", st.SigningConfigPath), pw); r.code != 0 {
			t.Fatalf("sign-blob --key: %s", r)
		}
		if r := runCmd(t, exec.Command(harden, "verify-blob", file, "--bundle", kb, "--key", keys+".pub", "--trusted-root", st.TrustedRootPath), nil); r.code != 0 {
			t.Fatalf("verify-blob --key: %s", r)
		}
		if out, err := cosignCLI(t, cosign, "verify-blob", file, "--bundle", kb, "--key", keys+".pub", "--trusted-root", st.TrustedRootPath); err != nil {
			t.Fatalf("cosign verify-blob --key: %v\n%s", err, out)
		}
	})
}

func distModuleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func distListDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func distSHA256(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func distRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
