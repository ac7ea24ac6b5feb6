package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// TestSecretsNeverWritten runs a keyless release (the identity token on
// the command line, the worst case), key signing with a password, and
// failing runs of both, all against a registry that demands a password
// and with --debug request logging on. No secret may appear in any
// output, log or file harden writes, and no temporary file may remain.
func TestSecretsNeverWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	require(t, os.Geteuid() == 0, "the release's smoke-test stage runs runc, which needs root")
	st := sigstoretest.Start(t)

	const user, pass = "harden", "s3cret-registry-pass"
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	var locked atomic.Bool
	var authed atomic.Int64
	reg := registrytest.Start(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if locked.Load() {
				if r.Header.Get("Authorization") != "Basic "+basic {
					w.Header().Set("WWW-Authenticate", `Basic realm="harden-test"`)
					http.Error(w, "authentication required", http.StatusUnauthorized)
					return
				}
				authed.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	base := pushBase(t, fx, reg)
	locked.Store(true)

	dockerCfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(dockerCfg, "config.json"), []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg, basic)), 0o600); err != nil {
		t.Fatal(err)
	}
	home, tmp, cache := t.TempDir(), t.TempDir(), t.TempDir()
	env := []string{epoch, "DOCKER_CONFIG=" + dockerCfg, "HOME=" + home, "TMPDIR=" + tmp,
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}

	token := st.Issuer.Token(t, signerEmail)
	const password = "correct horse battery staple"
	secrets := map[string]string{
		"identity token":           token,
		"token signature":          token[strings.LastIndex(token, ".")+1:],
		"key password":             password,
		"registry password":        pass,
		"registry basic auth blob": basic,
	}
	pr := newProject(t, fx, base, reg+"/e2e/secrets")
	out := filepath.Join(pr.Dir, "dist")
	var runs []result
	check := func(what string, r result, wantCode int) {
		t.Helper()
		runs = append(runs, r)
		if (wantCode == 0) != (r.code == 0) {
			t.Fatalf("%s: exit %d, want %d: %s", what, r.code, wantCode, r)
		}
		if left := listFiles(t, tmp); len(left) > 0 {
			t.Errorf("%s left temporary files behind: %v", what, left)
		}
	}

	check("release", run(t, env, "release", "--config", pr.Config, "--wheel-dir", fx.WheelDir, "--cache-dir", cache,
		"--out", out, "--storage", "both", "--identity-token", token, "--trusted-root", st.TrustedRootPath,
		"--signing-config", st.SigningConfigPath, "--runtime", "runc", "--progress", "plain", "--debug"), 0)
	if authed.Load() == 0 {
		t.Fatal("the registry never saw credentials: the test does not exercise them")
	}

	keys := filepath.Join(pr.Dir, "keys", "release")
	if err := os.MkdirAll(filepath.Dir(keys), 0o755); err != nil {
		t.Fatal(err)
	}
	pw := append([]string{"COSIGN_PASSWORD=" + password}, env...)
	check("keygen", run(t, pw, "keygen", "--output-key-prefix", keys), 0)
	for file, mode := range map[string]fs.FileMode{keys + ".key": 0o600, keys + ".pub": 0o644} {
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want mode %o", file, fi, err, mode)
		}
	}
	check("sign --key", run(t, pw, "sign", "--config", pr.Config, "--out", out, "--key", keys+".key", "--debug"), 0)

	// Failures: a wrong key password, and a token the issuer never made.
	bad := append([]string{"COSIGN_PASSWORD=not the password"}, env...)
	check("sign with a wrong password", run(t, bad, "sign", "--config", pr.Config, "--out", out, "--key", keys+".key", "--debug"), 1)
	forged := token[:strings.LastIndex(token, ".")+1] + base64.RawURLEncoding.EncodeToString([]byte("forged-signature-bytes"))
	secrets["forged token"] = forged
	r := run(t, env, "sign", "--config", pr.Config, "--out", out, "--identity-token", forged, "--trusted-root", st.TrustedRootPath,
		"--signing-config", st.SigningConfigPath, "--debug")
	check("sign with a forged token", r, 1)

	var logged bool
	for _, r := range runs {
		logged = logged || strings.Contains(r.stderr, "<redacted>")
	}
	if !logged {
		t.Error("--debug logged no redacted Authorization header: the request log is not being checked")
	}
	scanned := map[string]bool{}
	for name, s := range secrets {
		for i, r := range runs {
			if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
				t.Errorf("the %s appears in the output of run %d", name, i)
			}
		}
		for _, dir := range []string{pr.Dir, home, tmp, cache} {
			for _, f := range listFiles(t, dir) {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				scanned[f] = true
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("the %s is written to %s", name, f)
				}
			}
		}
	}
	if !scanned[filepath.Join(out, "release.json")] || !scanned[keys+".key"] || len(scanned) < 20 {
		t.Errorf("only %d files scanned, or not the release record and the key: the scan is not covering what harden writes", len(scanned))
	}
	t.Logf("%d runs, %d secrets, %d files, %d registry requests with credentials; checked stdout, stderr (--debug) and every file under the project, HOME, TMPDIR and the cache", len(runs), len(secrets), len(scanned), authed.Load())
}

// listFiles lists the regular files below dir.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	deadline := time.Now().Add(time.Minute)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("walking %s takes too long", dir)
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
