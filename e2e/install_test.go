package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/testtools"
)

// The release the install tests make; any release tag works.
const installVersion = "v9.8.7"

// sysPath is the PATH the install script gets besides cosign's directory.
const sysPath = "/usr/bin:/bin"

// testRelease is a release directory as `make dist` lays it out, signed
// keyless through the local Sigstore stack.
type testRelease struct {
	dir    string // harden_<v>_<os>_<arch>, SHA256SUMS, SHA256SUMS.sigstore.json
	asset  string // this machine's binary
	binSum string // its sha256
	st     *sigstoretest.Stack
}

// makeRelease names the harden binary as this machine's release asset,
// adds a second platform's asset, writes SHA256SUMS and signs it with the
// cosign CLI (sign-blob, bundle v0.3, Rekor v2 and RFC 3161 timestamp).
func makeRelease(t *testing.T, st *sigstoretest.Stack, cosign, bin string) *testRelease {
	t.Helper()
	dir := t.TempDir()
	r := &testRelease{dir: dir, asset: fmt.Sprintf("harden_%s_%s_%s", installVersion, runtime.GOOS, runtime.GOARCH), st: st}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	other := fmt.Sprintf("harden_%s_darwin_arm64", installVersion)
	if other == r.asset {
		other = fmt.Sprintf("harden_%s_linux_amd64", installVersion)
	}
	files := map[string][]byte{r.asset: data, other: []byte("another platform's binary\n")}
	var sums strings.Builder
	for _, name := range []string{min(r.asset, other), max(r.asset, other)} {
		sum := sha256.Sum256(files[name])
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(data)
	r.binSum = hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, signerEmail)), 0o600); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "SHA256SUMS.sigstore.json")
	if out, err := cosignCLI(t, cosign, "sign-blob", "--yes", "--bundle", bundle, "--identity-token", tok,
		"--trusted-root", st.TrustedRootPath, "--signing-config", st.SigningConfigPath, filepath.Join(dir, "SHA256SUMS")); err != nil {
		t.Fatalf("cosign sign-blob: %v\n%s", err, out)
	}
	var b struct {
		MediaType            string `json:"mediaType"`
		VerificationMaterial struct {
			TlogEntries []struct {
				KindVersion struct{ Kind, Version string } `json:"kindVersion"`
			} `json:"tlogEntries"`
			TimestampVerificationData struct {
				RFC3161Timestamps []json.RawMessage `json:"rfc3161Timestamps"`
			} `json:"timestampVerificationData"`
		} `json:"verificationMaterial"`
		MessageSignature *json.RawMessage `json:"messageSignature"`
	}
	raw, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("bundle: %v", err)
	}
	vm := b.VerificationMaterial
	if b.MediaType != "application/vnd.dev.sigstore.bundle.v0.3+json" || b.MessageSignature == nil ||
		len(vm.TlogEntries) != 1 || vm.TlogEntries[0].KindVersion.Version != "0.0.2" || len(vm.TimestampVerificationData.RFC3161Timestamps) != 1 {
		t.Fatalf("not a bundle v0.3 message signature with a Rekor v2 entry and a timestamp:\n%s", raw)
	}
	return r
}

// clone copies the release so that a case can alter it.
func (r *testRelease) clone(t *testing.T) *testRelease {
	t.Helper()
	c := *r
	c.dir = t.TempDir()
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyFile(t, filepath.Join(r.dir, e.Name()), filepath.Join(c.dir, e.Name()))
	}
	return &c
}

// serve serves the release directory over HTTP on 127.0.0.1.
func (r *testRelease) serve(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(r.dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// installScript is scripts/install.sh in this checkout.
func installScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "scripts", "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cleanEnv is the test's environment without anything the install script
// reads (HARDEN_*, COSIGN, PATH), with a private HOME.
func cleanEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "HARDEN_") || k == "COSIGN" || k == "PATH" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+t.TempDir(), "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1")
}

// pathWith is a directory holding only a link named cosign to bin, ahead of
// the system directories.
func pathWith(t *testing.T, name, bin string) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(d, name)); err != nil {
		t.Fatal(err)
	}
	return d + ":" + sysPath
}

// runInstall runs the install script with sh (dash on Debian: POSIX only).
func runInstall(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command("sh", append([]string{installScript(t)}, args...)...)
	var so, se strings.Builder
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run install.sh: %v", err)
	}
	return result{code: code, stdout: so.String(), stderr: se.String()}
}

// requireNothingInstalled fails unless dir is missing or empty (no binary,
// no staged temporary file).
func requireNothingInstalled(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) > 0 {
		t.Fatalf("install directory is not empty after a refusal: %v", names)
	}
}

// requireInstalled checks that dir/harden is the release binary, executable,
// and runs `harden version` as the binary it was made from does.
func requireInstalled(t *testing.T, r *testRelease, dir string) {
	t.Helper()
	got := filepath.Join(dir, "harden")
	fi, err := os.Stat(got)
	if err != nil {
		t.Fatalf("nothing installed: %v", err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
	data, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != r.binSum {
		t.Fatalf("installed binary has sha256 %x, want %s", sum, r.binSum)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("install directory holds %d entries, want only harden", len(entries))
	}
	want, err := exec.Command(hardenBin(t), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(got, "version").Output()
	if err != nil {
		t.Fatalf("installed harden version: %v", err)
	}
	if string(out) != string(want) || len(out) == 0 {
		t.Fatalf("installed harden version printed %q, want %q", out, want)
	}
}

// TestInstallScript makes a signed release of the harden binary, serves it
// on 127.0.0.1 and runs scripts/install.sh against it: the genuine release
// installs; an altered binary, an altered SHA256SUMS, another identity or
// issuer, a missing bundle, a missing cosign, cosign v2 and an unreachable
// server are each refused with nothing installed.
func TestInstallScript(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	_, err := exec.LookPath("curl")
	require(t, err == nil, "curl is not installed (scripts/setup.sh installs it)")
	for _, d := range filepath.SplitList(sysPath) {
		if _, err := os.Stat(filepath.Join(d, "cosign")); err == nil {
			t.Fatalf("%s/cosign exists: the missing-cosign case cannot hide it", d)
		}
	}
	st := sigstoretest.Start(t)
	cosign := testtools.Path(t, "cosign")
	rel := makeRelease(t, st, cosign, hardenBin(t))

	// The local stack's identity and root; its Fulcio has no CT log.
	local := func(url string) []string {
		return []string{"--version", installVersion, "--base-url", url,
			"--certificate-identity", signerEmail, "--certificate-oidc-issuer", st.Issuer.URL(),
			"--trusted-root", st.TrustedRootPath, "--", "--insecure-ignore-sct"}
	}
	withCosign := append(cleanEnv(t), "PATH="+pathWith(t, "cosign", cosign))

	t.Run("genuine release installs", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "bin") // created by the script
		r := runInstall(t, withCosign, append([]string{"--dir", dir}, local(rel.serve(t))...)...)
		if r.code != 0 {
			t.Fatalf("install: %s", r)
		}
		requireInstalled(t, rel, dir)
		for _, want := range []string{"installed " + dir + "/harden", "signed by " + signerEmail, "sha256:" + rel.binSum} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		// Again over the installed binary: replaced in place.
		if r := runInstall(t, withCosign, append([]string{"--dir", dir}, local(rel.serve(t))...)...); r.code != 0 {
			t.Fatalf("second install: %s", r)
		}
		requireInstalled(t, rel, dir)
	})

	t.Run("settings from the environment", func(t *testing.T) {
		dir := t.TempDir()
		env := append(cleanEnv(t), "PATH="+sysPath, "COSIGN="+cosign, "HARDEN_VERSION="+installVersion,
			"HARDEN_INSTALL_DIR="+dir, "HARDEN_BASE_URL="+rel.serve(t), "HARDEN_CERTIFICATE_IDENTITY="+signerEmail,
			"HARDEN_CERTIFICATE_OIDC_ISSUER="+st.Issuer.URL(), "HARDEN_TRUSTED_ROOT="+st.TrustedRootPath,
			"HARDEN_COSIGN_FLAGS=--insecure-ignore-sct")
		if r := runInstall(t, env); r.code != 0 {
			t.Fatalf("install: %s", r)
		}
		requireInstalled(t, rel, dir)
	})

	alterBinary := func(t *testing.T, r *testRelease) {
		p := filepath.Join(r.dir, r.asset)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		alter  func(t *testing.T, r *testRelease)
		env    func(t *testing.T) []string
		args   func(url string) []string
		code   int
		stderr string
	}{
		{name: "altered binary", alter: alterBinary,
			code: 1, stderr: "the download was altered"},
		{name: "altered SHA256SUMS naming the altered binary", alter: func(t *testing.T, r *testRelease) {
			alterBinary(t, r)
			data, err := os.ReadFile(filepath.Join(r.dir, r.asset))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			p := filepath.Join(r.dir, "SHA256SUMS")
			sums, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			alt := strings.Replace(string(sums), r.binSum, hex.EncodeToString(sum[:]), 1)
			if alt == string(sums) {
				t.Fatal("the binary's line is not in SHA256SUMS")
			}
			if err := os.WriteFile(p, []byte(alt), 0o644); err != nil {
				t.Fatal(err)
			}
		}, code: 1, stderr: "does not verify for identity " + signerEmail},
		{name: "altered log entry", alter: alterLogEntry,
			code: 1, stderr: "does not verify for identity " + signerEmail},
		{name: "another identity", args: func(url string) []string {
			a := local(url)
			a[slices.Index(a, signerEmail)] = "mallory@example.com"
			return a
		}, code: 1, stderr: "does not verify for identity mallory@example.com"},
		{name: "another issuer", args: func(url string) []string {
			a := local(url)
			a[slices.Index(a, st.Issuer.URL())] = "https://token.actions.githubusercontent.com"
			return a
		}, code: 1, stderr: "issuer https://token.actions.githubusercontent.com"},
		{name: "default identity is harden's release workflow", args: func(url string) []string {
			a := local(url)
			i := slices.Index(a, "--certificate-identity")
			return append(a[:i:i], a[i+2:]...)
		}, code: 1, stderr: "does not verify for identity https://github.com/harden-dev/harden/.github/workflows/release.yml@refs/tags/" + installVersion},
		{name: "missing bundle", alter: func(t *testing.T, r *testRelease) {
			if err := os.Remove(filepath.Join(r.dir, "SHA256SUMS.sigstore.json")); err != nil {
				t.Fatal(err)
			}
		}, code: 1, stderr: "the release has no SHA256SUMS.sigstore.json"},
		{name: "no binary for this platform", alter: func(t *testing.T, r *testRelease) {
			if err := os.Remove(filepath.Join(r.dir, r.asset)); err != nil {
				t.Fatal(err)
			}
		}, code: 1, stderr: "the release has no " + rel.asset},
		{name: "missing cosign", env: func(t *testing.T) []string { return append(cleanEnv(t), "PATH="+sysPath) },
			code: 2, stderr: "cosign not found"},
		{name: "version latest", args: func(url string) []string {
			a := local(url)
			a[1] = "latest"
			return a
		}, code: 2, stderr: "--version latest: name a release tag such as v0.1.0"},
		{name: "unreachable server", args: func(string) []string { return local(closedURL(t)) },
			code: 3, stderr: "download failed"},
	}
	// cosign v2.6.5 reads the bundle's Rekor v2 entry only when the RFC 3161
	// timestamp may stand in for the entry's integrated time.
	t.Run("cosign v2.6.5", func(t *testing.T) {
		env := append(cleanEnv(t), "PATH="+sysPath, "COSIGN="+cosign2Bin(t))
		dir := filepath.Join(t.TempDir(), "bin")
		r := runInstall(t, env, append([]string{"--dir", dir}, local(rel.serve(t))...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "integrated timestamps: 0 < 1") || !strings.Contains(r.stderr, "-- --use-signed-timestamps") {
			t.Fatalf("cosign v2 without --use-signed-timestamps: want exit 1 and the hint, got %s", r)
		}
		requireNothingInstalled(t, dir)
		withTS := func(url string) []string {
			return append(append([]string{"--dir", dir}, local(url)...), "--use-signed-timestamps")
		}
		// The signed timestamp stands in for the time only: the log entry
		// is still checked.
		bad := rel.clone(t)
		alterLogEntry(t, bad)
		if r := runInstall(t, env, withTS(bad.serve(t))...); r.code != 1 || !strings.Contains(r.stderr, "checkpoint") {
			t.Fatalf("cosign v2 with --use-signed-timestamps and an altered log entry: want exit 1 naming the checkpoint, got %s", r)
		}
		requireNothingInstalled(t, dir)
		if r := runInstall(t, env, withTS(rel.serve(t))...); r.code != 0 {
			t.Fatalf("cosign v2 with --use-signed-timestamps: %s", r)
		}
		requireInstalled(t, rel, dir)
	})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rel
			if c.alter != nil {
				r = rel.clone(t)
				c.alter(t, r)
			}
			env := withCosign
			if c.env != nil {
				env = c.env(t)
			}
			args := local
			if c.args != nil {
				args = c.args
			}
			dir := filepath.Join(t.TempDir(), "bin")
			res := runInstall(t, env, append([]string{"--dir", dir}, args(r.serve(t))...)...)
			if res.code != c.code || !strings.Contains(res.stderr, c.stderr) || !strings.Contains(res.stderr, "nothing was installed") {
				t.Fatalf("want exit %d and %q on stderr, got %s", c.code, c.stderr, res)
			}
			requireNothingInstalled(t, dir)
			t.Logf("refused: %s", lastLines(res.stderr, 2))
		})
	}
}

// alterLogEntry flips a bit of the Rekor v2 entry's root hash in the
// bundle, in the inclusion proof and in its signed checkpoint alike.
func alterLogEntry(t *testing.T, r *testRelease) {
	t.Helper()
	p := filepath.Join(r.dir, "SHA256SUMS.sigstore.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	proof := b["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)["inclusionProof"].(map[string]any)
	root, err := base64.StdEncoding.DecodeString(proof["rootHash"].(string))
	if err != nil || len(root) == 0 {
		t.Fatalf("root hash: %v", err)
	}
	old := proof["rootHash"].(string)
	root[0] ^= 1
	proof["rootHash"] = base64.StdEncoding.EncodeToString(root)
	cp := proof["checkpoint"].(map[string]any)
	env := cp["envelope"].(string)
	if !strings.Contains(env, old) {
		t.Fatalf("the checkpoint does not carry the root hash:\n%s", env)
	}
	cp["envelope"] = strings.Replace(env, old, proof["rootHash"].(string), 1)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/releases"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " / ")
}

// TestInstallAction runs the install step of action.yml as the runner
// would (inputs and runner context substituted, GITHUB_ACTION_PATH at this
// checkout, cosign where the cosign-installer step puts it) against a
// local release: harden is installed and its directory added to PATH.
func TestInstallAction(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	_, err := exec.LookPath("curl")
	require(t, err == nil, "curl is not installed (scripts/setup.sh installs it)")
	st := sigstoretest.Start(t)
	cosign := testtools.Path(t, "cosign")
	rel := makeRelease(t, st, cosign, hardenBin(t))

	var action struct {
		Runs struct {
			Steps []struct {
				ID   string            `yaml:"id"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
				With map[string]string `yaml:"with"`
				Uses string            `yaml:"uses"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatal(err)
	}
	runnerTemp := t.TempDir()
	ctx := map[string]string{"inputs.version": installVersion, "inputs.install-dir": "", "runner.temp": runnerTemp}
	expr := regexp.MustCompile(`\$\{\{\s*([\w.-]+)\s*\}\}`)
	subst := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			k := expr.FindStringSubmatch(m)[1]
			v, ok := ctx[k]
			if !ok {
				t.Fatalf("action.yml uses %s, which this test does not provide", m)
			}
			return v
		})
	}
	var ran bool
	for _, s := range action.Runs.Steps {
		if strings.HasPrefix(s.Uses, "sigstore/cosign-installer@") {
			// Where that step installs cosign.
			d := subst(s.With["install-dir"])
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(cosign, filepath.Join(d, "cosign")); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if s.Run == "" {
			continue
		}
		ghPath, ghOut := filepath.Join(t.TempDir(), "path"), filepath.Join(t.TempDir(), "output")
		env := append(cleanEnv(t), "PATH="+sysPath, "GITHUB_ACTION_PATH="+root, "RUNNER_TEMP="+runnerTemp,
			"GITHUB_PATH="+ghPath, "GITHUB_OUTPUT="+ghOut,
			// The local stack in place of public-good Sigstore.
			"HARDEN_BASE_URL="+rel.serve(t), "HARDEN_CERTIFICATE_IDENTITY="+signerEmail,
			"HARDEN_CERTIFICATE_OIDC_ISSUER="+st.Issuer.URL(), "HARDEN_TRUSTED_ROOT="+st.TrustedRootPath,
			"HARDEN_COSIGN_FLAGS=--insecure-ignore-sct")
		for k, v := range s.Env {
			env = append(env, k+"="+subst(v))
		}
		cmd := exec.Command("bash", "-e", "-c", s.Run)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("action step %s: %v\n%s", s.ID, err, out)
		}
		ran = true
		dir := filepath.Join(runnerTemp, "harden", "bin")
		requireInstalled(t, rel, dir)
		if b, _ := os.ReadFile(ghPath); string(b) != dir+"\n" {
			t.Errorf("GITHUB_PATH got %q, want %q", b, dir+"\n")
		}
		if b, _ := os.ReadFile(ghOut); string(b) != "path="+dir+"/harden\n" {
			t.Errorf("GITHUB_OUTPUT got %q", b)
		}
	}
	if !ran {
		t.Fatal("action.yml has no run step")
	}
}
