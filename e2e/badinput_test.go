package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/wheel/wheeltest"
)

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	sum, err := fsutil.SHA256File(p)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// lockText renders the fixture's pins as a hash-locked requirements file,
// plus extra lines.
func lockText(fx *fixture.Fixture, edit func(name, line string) string, extra ...string) string {
	var b strings.Builder
	for _, w := range fx.Wheels {
		line := fmt.Sprintf("%s==%s \\\n    --hash=sha256:%s\n", w.Name, w.Version, w.SHA256)
		if edit != nil {
			line = edit(w.Name, line)
		}
		b.WriteString(line)
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String()
}

// TestBadInput: each defect is refused with exit 2 (or 3 when a service
// is unreachable), a message naming the problem and the fix, and no
// output directory or registry content left behind.
func TestBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	fx := fixture.Load(t)
	regs := registries(t)
	reg := regs["ggcr"]
	base := pushBase(t, fx, reg)
	wheelDir := t.TempDir()
	for _, w := range fx.Wheels {
		if err := os.Link(filepath.Join(fx.WheelDir, w.File), filepath.Join(wheelDir, w.File)); err != nil {
			copyFile(t, filepath.Join(fx.WheelDir, w.File), filepath.Join(wheelDir, w.File))
		}
	}
	sdist := filepath.Join(wheelDir, "fakesdist-1.0.tar.gz")
	if err := os.WriteFile(sdist, []byte("not really a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	sdistSHA := fileSHA(t, sdist)
	armSHA := wheeltest.Write(t, wheelDir, "armonly-1.0-cp311-cp311-manylinux_2_17_aarch64.whl", "armonly", "1.0",
		wheeltest.Member{Name: "armonly/__init__.py", Data: ""})
	dotdotSHA := wheeltest.Write(t, wheelDir, "dotdot-1.0-py3-none-any.whl", "dotdot", "1.0",
		wheeltest.Member{Name: "../../../../tmp/harden-evil", Data: "pwned"})
	absSHA := wheeltest.Write(t, wheelDir, "abspath-1.0-py3-none-any.whl", "abspath", "1.0",
		wheeltest.Member{Name: "/etc/harden-evil", Data: "pwned"})
	linkSHA := wheeltest.Write(t, wheelDir, "linkescape-1.0-py3-none-any.whl", "linkescape", "1.0",
		wheeltest.Member{Name: "linkescape/__init__.py", Data: ""},
		wheeltest.Member{Name: "linkescape/etc", Data: "../../../../../../etc", Symlink: true})

	// Each case is one defect. By default it runs "harden build" with
	// SOURCE_DATE_EPOCH set, on a copy of the fixture project.
	type badCase struct {
		name     string
		edit     func(p *project)
		sub      [2]string // replace sub[0] by sub[1] in the rendered harden.yaml
		lock     string    // replaces requirements.lock
		remove   string    // a project file to delete
		env      []string  // replaces the default environment
		args     func(p *project, out string) []string
		code     int
		contains []string
	}
	lockLine := func(line string) string { return lockText(fx, nil, line) }
	pin := fx.Wheels[0]
	cases := []badCase{
		{name: "base without digest", edit: func(p *project) { p.Base = reg + "/library/python:3.11-bookworm-fixture" },
			code: 2, contains: []string{"base", "digest", "harden base resolve"}},
		{name: "unknown config field", edit: func(p *project) { p.Extra = "bsae: x\n" },
			code: 2, contains: []string{"harden.yaml", "bsae"}},
		{name: "lock line without hash", lock: lockText(fx, func(n, l string) string {
			if n == fx.Wheels[0].Name {
				return fmt.Sprintf("%s==%s\n", fx.Wheels[0].Name, fx.Wheels[0].Version)
			}
			return l
		}), code: 2, contains: []string{"requirements.lock", fx.Wheels[0].Name, "--hash"}},
		{name: "hash mismatch", lock: lockText(fx, func(n, l string) string {
			if n == fx.Wheels[0].Name {
				return strings.Replace(l, fx.Wheels[0].SHA256, strings.Repeat("ab", 32), 1)
			}
			return l
		}), code: 2, contains: []string{"hash mismatch", fx.Wheels[0].Name, "re-lock"}},
		{name: "sdist in lock", lock: lockText(fx, nil, "fakesdist==1.0 \\\n    --hash=sha256:"+sdistSHA),
			code: 2, contains: []string{"fakesdist", "sdist", "wheels only"}},
		{name: "no wheel for the platform", lock: lockText(fx, nil, "armonly==1.0 \\\n    --hash=sha256:"+armSHA),
			code: 2, contains: []string{"armonly", "no wheel for linux/amd64"}},
		{name: "wheel with .. path", lock: lockText(fx, nil, "dotdot==1.0 \\\n    --hash=sha256:"+dotdotSHA),
			code: 2, contains: []string{"dotdot", "harden-evil"}},
		{name: "wheel with absolute path", lock: lockText(fx, nil, "abspath==1.0 \\\n    --hash=sha256:"+absSHA),
			code: 2, contains: []string{"abspath", "/etc/harden-evil"}},
		{name: "wheel with escaping symlink", lock: lockText(fx, nil, "linkescape==1.0 \\\n    --hash=sha256:"+linkSHA),
			code: 2, contains: []string{"linkescape", "symlink"}},
		{name: "unreachable registry", edit: func(p *project) {
			p.Base = "127.0.0.1:1/library/python" + base[strings.Index(base, "@"):]
		}, code: 3, contains: []string{"127.0.0.1:1"}},

		// harden.yaml
		{name: "config: root uid", sub: [2]string{"uid: 10001", "uid: 0"}, code: 2, contains: []string{"user.uid", "non-root", "10001"}},
		{name: "config: non-linux platform", sub: [2]string{"platforms: [linux/amd64]", "platforms: [windows/amd64]"}, code: 2, contains: []string{"platforms[0]", "linux/amd64"}},
		{name: "config: repository with tag", edit: func(p *project) { p.Repository += ":latest" }, code: 2, contains: []string{"repository", "contains a tag", "remove it"}},
		{name: "config: empty entrypoint", sub: [2]string{"entrypoint: [pgcli]", "entrypoint: []"}, code: 2, contains: []string{"entrypoint", "entrypoint: [pgcli]"}},
		{name: "config: smoke test without expectation", sub: [2]string{`expect: {stdout: "10001"}`, "timeout: 5s"}, code: 2, contains: []string{"no expectation", "add expect:"}},
		{name: "config: bad smoke regexp", sub: [2]string{`expect: {stdout: "10001"}`, `expect: {stdoutRegexp: "("}`}, code: 2, contains: []string{"stdoutRegexp", "RE2"}},
		{name: "config: duplicate key", sub: [2]string{"name: pgcli\n", "name: pgcli\nname: again\n"}, code: 2, contains: []string{"duplicate field", "keep one"}},
		{name: "config: invalid env name", sub: [2]string{"LANG: C.UTF-8", "1BAD: x"}, code: 2, contains: []string{"env.1BAD", "not starting with a digit"}},
		{name: "config: wrong value type", sub: [2]string{"uid: 10001", "uid: many"}, code: 2, contains: []string{"user.uid", "expected an integer", "10001"}},
		{name: "config: file missing", args: func(p *project, out string) []string {
			return []string{"build", "--config", filepath.Join(p.Dir, "nope.yaml"), "--out", out}
		}, code: 2, contains: []string{"nope.yaml", "--config"}},
		{name: "config: requirements.in missing", remove: "requirements.in", code: 2, contains: []string{"requirements.in does not exist", "top-level requirements"}},
		{name: "lock: file missing", remove: "requirements.lock", code: 2, contains: []string{"requirements.lock", "harden lock"}},
		// requirements.lock
		{name: "lock: range instead of pin", lock: lockLine("zzz>=1.0 \\\n    --hash=sha256:" + pin.SHA256), code: 2, contains: []string{"zzz>=1.0", "==", "harden lock"}},
		{name: "lock: md5 hash", lock: lockLine("zzz==1.0 \\\n    --hash=md5:" + pin.SHA256[:32]), code: 2, contains: []string{"md5", "sha256"}},
		{name: "lock: editable", lock: lockLine("-e ./pkg"), code: 2, contains: []string{"editable", "wheels only"}},
		{name: "lock: URL requirement", lock: lockLine("pgcli @ https://example.test/pgcli-3.5.0.tar.gz"), code: 2, contains: []string{"sdist/archive", "wheels only"}},
		{name: "lock: duplicate pin", lock: lockLine(fmt.Sprintf("%s==%s \\\n    --hash=sha256:%s", pin.Name, pin.Version, pin.SHA256)), code: 2, contains: []string{"pinned twice", "keep one pin"}},
		{name: "lock: bad marker", lock: lockLine("zzz==1.0 ; python_version >>> \"3\" \\\n    --hash=sha256:" + pin.SHA256), code: 2, contains: []string{"bad marker", "PEP 508"}},
		{name: "lock: include", lock: lockLine("-r other.txt"), code: 2, contains: []string{"-r other.txt", "self-contained"}},
		{name: "lock: no pins", lock: "# nothing pinned\n", code: 2, contains: []string{"pins no packages", "harden lock"}},
		// CLI flags, environment and references
		{name: "cli: unknown flag", args: func(p *project, out string) []string { return []string{"build", "--bogus"} }, code: 2, contains: []string{"unknown flag", "--bogus"}},
		{name: "cli: unknown output format", args: func(p *project, out string) []string { return []string{"-o", "yaml", "build", "--config", p.Config} }, code: 2, contains: []string{"yaml", "text or json"}},
		{name: "cli: unknown command", args: func(p *project, out string) []string { return []string{"frobnicate"} }, code: 2, contains: []string{"frobnicate", "harden --help"}},
		{name: "cli: stray argument", args: func(p *project, out string) []string { return []string{"build", "extra", "--config", p.Config} }, code: 2, contains: []string{"extra", "harden build --help"}},
		{name: "cli: unknown runtime", args: func(p *project, out string) []string {
			return []string{"test", "--config", p.Config, "--out", out, "--runtime", "lxc"}
		}, code: 2, contains: []string{"lxc", "runc, docker, podman or chroot"}},
		{name: "cli: bad SOURCE_DATE_EPOCH", env: []string{"SOURCE_DATE_EPOCH=yesterday"}, code: 2, contains: []string{"SOURCE_DATE_EPOCH", "git log -1"}},
		{name: "cli: no build time outside git", env: []string{"SOURCE_DATE_EPOCH="}, code: 2, contains: []string{"no build time", "not in a git checkout", "export SOURCE_DATE_EPOCH="}},
		{name: "cli: non-http index", args: func(p *project, out string) []string {
			return []string{"build", "--config", p.Config, "--index-url", "ftp://mirror.example/simple", "--out", out}
		}, code: 2, contains: []string{"ftp://mirror.example/simple", "http(s)"}},
		{name: "cli: missing wheel dir", args: func(p *project, out string) []string {
			return []string{"build", "--config", p.Config, "--wheel-dir", filepath.Join(p.Dir, "nowheels"), "--out", out}
		}, code: 2, contains: []string{"nowheels", "--wheel-dir"}},
		{name: "ref: malformed image reference", args: func(p *project, out string) []string { return []string{"base", "resolve", "UPPER/Case!!"} }, code: 2, contains: []string{"UPPER/Case!!", "registry/repo@sha256"}},
		{name: "ref: unknown tag", args: func(p *project, out string) []string {
			return []string{"base", "resolve", reg + "/library/python:no-such-tag"}
		}, code: 2, contains: []string{"no-such-tag", "MANIFEST_UNKNOWN"}},
		{name: "ref: publish to a digest", args: func(p *project, out string) []string {
			return []string{"publish", "--config", p.Config, "--out", out, "--repo", base}
		}, code: 2, contains: []string{"@sha256:", "no tag or digest"}},
		{name: "cli: publish without a build", args: func(p *project, out string) []string { return []string{"publish", "--config", p.Config, "--out", out} }, code: 2, contains: []string{"build.json", "run harden build first"}},
		{name: "cli: test without a build", args: func(p *project, out string) []string { return []string{"test", "--config", p.Config, "--out", out} }, code: 2, contains: []string{"build.json", "run harden build first"}},
		// verify, rebuild, release, lint
		{name: "verify: no image", args: func(p *project, out string) []string {
			return []string{"verify", "--certificate-identity", "a@b", "--certificate-oidc-issuer", "https://i"}
		},
			code: 2, contains: []string{"REPO@sha256", "--layout"}},
		{name: "verify: no identity", args: func(p *project, out string) []string { return []string{"verify", base} }, code: 2, contains: []string{"--certificate-identity"}},
		{name: "verify: policy that does not compile", args: func(p *project, out string) []string {
			bad := filepath.Join(p.Dir, "bad.rego")
			if err := os.WriteFile(bad, []byte("package harden\ndeny contains msg if {\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"verify", base, "--certificate-identity", "a@b", "--certificate-oidc-issuer", "https://i", "--policy", bad}
		}, code: 2, contains: []string{"bad.rego"}},
		{name: "verify: layout that is not an export", args: func(p *project, out string) []string {
			return []string{"verify", "--layout", p.Dir, "--certificate-identity", "a@b", "--certificate-oidc-issuer", "https://i"}
		}, code: 2, contains: []string{"not an OCI layout", "harden export"}},
		{name: "rebuild: a tag", args: func(p *project, out string) []string {
			return []string{"rebuild", reg + "/library/python:3.11-bookworm-fixture", "--certificate-identity", "a@b", "--certificate-oidc-issuer", "https://i"}
		}, code: 2, contains: []string{"3.11-bookworm-fixture", "@sha256:"}},
		{name: "rebuild: no image", args: func(p *project, out string) []string { return []string{"rebuild", "--wheel-dir", p.Dir} }, code: 2, contains: []string{"REPO@sha256", "--layout"}},
		{name: "release: unknown progress mode", args: func(p *project, out string) []string {
			return []string{"release", "--config", p.Config, "--out", out, "--progress", "fancy"}
		}, code: 2, contains: []string{"fancy", "auto, live or plain"}},
		{name: "policy: unknown engine", args: func(p *project, out string) []string {
			return []string{"policy", "generate", "--config", p.Config, "--engine", "opa"}
		}, code: 2, contains: []string{"opa", "gatekeeper"}},
		{name: "policy: kyverno without a signer", args: func(p *project, out string) []string {
			return []string{"policy", "generate", "--config", p.Config, "--engine", "kyverno"}
		}, code: 2, contains: []string{"signer", "--github-repo"}},
		{name: "lock: --python-version without --glibc", args: func(p *project, out string) []string {
			return []string{"lock", "--config", p.Config, "--wheel-dir", wheelDir, "--python-version", "3.11.2"}
		}, code: 2, contains: []string{"--python-version and --glibc go together"}},
		{name: "lock: unsatisfiable requirement", args: func(p *project, out string) []string {
			if err := os.WriteFile(filepath.Join(p.Dir, "requirements.in"), []byte("pgcli>=9\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"lock", "--config", p.Config, "--wheel-dir", wheelDir, "--python-version", "3.11.2", "--glibc", "2.36", "--cache-dir", t.TempDir()}
		}, code: 2, contains: []string{"pgcli", ">=9", "3.5.0"}},
		{name: "lock: --check with --upgrade", args: func(p *project, out string) []string {
			return []string{"lock", "--config", p.Config, "--check", "--upgrade"}
		}, code: 2, contains: []string{"--check changes nothing", "--upgrade"}},
		{name: "lock diff: one file", args: func(p *project, out string) []string {
			return []string{"lock", "diff", "--config", p.Config, filepath.Join(p.Dir, "requirements.lock")}
		}, code: 2, contains: []string{"two lock files", "--git REV"}},
		{name: "lock diff: unknown revision", args: func(p *project, out string) []string {
			return []string{"lock", "diff", "--config", p.Config, "--git", "no-such-rev", filepath.Join(p.Dir, "requirements.lock")}
		}, code: 2, contains: []string{"no-such-rev"}},
		{name: "bump: malformed version", sub: [2]string{"version: 3.5.0-r1", "version: 3.5.0"}, args: func(p *project, out string) []string {
			return []string{"bump", "--config", p.Config, "--offline"}
		}, code: 2, contains: []string{"3.5.0", "-r"}},
		{name: "base update: tag gone", args: func(p *project, out string) []string {
			return []string{"base", "update", "--config", p.Config, "--tag", "no-such-tag", "--dry-run"}
		}, code: 2, contains: []string{"no-such-tag"}},
		{name: "verify: unknown max severity", args: func(p *project, out string) []string {
			return []string{"verify", base, "--certificate-identity", "a@b", "--certificate-oidc-issuer", "https://i", "--max-severity", "severe"}
		}, code: 2, contains: []string{"severe", "none, unknown, negligible, low, medium, high or critical"}},
		{name: "scan: --out with --sbom", args: func(p *project, out string) []string {
			return []string{"scan", "--sbom", filepath.Join(p.Dir, "sbom.json"), "--out", out}
		}, code: 2, contains: []string{"--out", "--sbom"}},
		{name: "policy: scan requirement for gatekeeper", args: func(p *project, out string) []string {
			return []string{"policy", "generate", "--config", p.Config, "--engine", "gatekeeper", "--max-scan-age", "168h"}
		}, code: 2, contains: []string{"gatekeeper", "cannot require a vulnerability scan"}},
		{name: "policy: missing trusted root", args: func(p *project, out string) []string {
			return []string{"policy", "generate", "--config", p.Config, "--engine", "policy-controller", "--github-repo", "org/x",
				"--trusted-root", filepath.Join(p.Dir, "trusted_root.json")}
		}, code: 2, contains: []string{"trusted_root.json", "no such file"}},
		{name: "scan: no image and no SBOM", args: func(p *project, out string) []string { return []string{"scan", "--config", p.Config} },
			code: 2, contains: []string{"REPO@sha256", "--sbom"}},
		{name: "scan: unknown severity", args: func(p *project, out string) []string {
			return []string{"scan", "--config", p.Config, "--sbom", p.Config, "--fail-on", "severe"}
		}, code: 2, contains: []string{"severe", "negligible, low, medium, high or critical"}},
		{name: "scan: missing database", args: func(p *project, out string) []string {
			return []string{"scan", "--config", p.Config, "--sbom", p.Config, "--db", filepath.Join(p.Dir, "nodb")}
		}, code: 2, contains: []string{"nodb", "grype v6 database"}},
		{name: "scan: not an SBOM", args: func(p *project, out string) []string {
			return []string{"scan", "--config", p.Config, "--sbom", p.Config}
		}, code: 2, contains: []string{"read SBOM", "SPDX"}},
		{name: "scan: a tag", args: func(p *project, out string) []string {
			return []string{"scan", "--config", p.Config, reg + "/library/python:3.11-bookworm-fixture"}
		}, code: 2, contains: []string{"by digest"}},
		{name: "lint: missing file", args: func(p *project, out string) []string { return []string{"lint", filepath.Join(p.Dir, "deploy.yaml")} },
			code: 2, contains: []string{"deploy.yaml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pr := newProject(t, fx, base, reg+"/e2e/bad")
			if tc.edit != nil {
				tc.edit(pr)
				pr.write(t)
			}
			if tc.sub[0] != "" {
				b, err := os.ReadFile(pr.Config)
				if err != nil || !strings.Contains(string(b), tc.sub[0]) {
					t.Fatalf("config lacks %q to replace: %v", tc.sub[0], err)
				}
				if err := os.WriteFile(pr.Config, []byte(strings.Replace(string(b), tc.sub[0], tc.sub[1], 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.lock != "" {
				if err := os.WriteFile(filepath.Join(pr.Dir, "requirements.lock"), []byte(tc.lock), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.remove != "" {
				if err := os.Remove(filepath.Join(pr.Dir, tc.remove)); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(pr.Dir, "dist")
			args := []string{"build", "--config", pr.Config, "--wheel-dir", wheelDir, "--cache-dir", t.TempDir(), "--out", out}
			if tc.args != nil {
				args = tc.args(pr, out)
			}
			env := []string{epoch}
			if tc.env != nil {
				env = tc.env
			}
			r := run(t, env, args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r)
			}
			for _, s := range tc.contains {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("message lacks %q:\n%s", s, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("a refused command printed a result: %q", r.stdout)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("failed command left %s behind", out)
			}
			if _, err := os.Stat("/tmp/harden-evil"); err == nil {
				t.Errorf("a malicious wheel wrote /tmp/harden-evil")
			}
		})
	}

	t.Run("publish refusals", func(t *testing.T) {
		pr := newProject(t, fx, base, reg+"/e2e/refused")
		out := filepath.Join(pr.Dir, "dist")
		if r := run(t, []string{epoch}, "build", "--config", pr.Config, "--wheel-dir", fx.WheelDir, "--out", out); r.code != 0 {
			t.Fatalf("build: %s", r)
		}
		r := run(t, nil, "publish", "--config", pr.Config, "--out", out, "--repo", "127.0.0.1:1/e2e/x")
		if r.code != 3 || !strings.Contains(r.stderr, "127.0.0.1:1") {
			t.Errorf("publish to a closed port: %s", r)
		}
		r = run(t, nil, "publish", "--config", pr.Config, "--out", out, "--repo", reg+"/e2e/x:latest")
		if r.code != 2 || !strings.Contains(r.stderr, "no tag or digest") {
			t.Errorf("publish to a tagged repo: %s", r)
		}
		// Corrupt one blob of the layout: nothing may be pushed.
		blobs, _ := filepath.Glob(filepath.Join(out, "oci", "blobs", "sha256", "*"))
		var biggest string
		var size int64
		for _, b := range blobs {
			if fi, err := os.Stat(b); err == nil && fi.Size() > size && fi.Size() < 64<<20 {
				biggest, size = b, fi.Size()
			}
		}
		data, err := os.ReadFile(biggest)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(biggest, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r = run(t, nil, "publish", "--config", pr.Config, "--out", out, "--tag", "latest")
		if r.code == 0 || !strings.Contains(r.stderr, "refusing to push") {
			t.Errorf("publish of a corrupted layout: %s", r)
		}
		if tags := repoTags(t, reg+"/e2e/refused"); len(tags) != 0 {
			t.Errorf("corrupted publish left tags %v", tags)
		}
		if _, err := os.Stat(filepath.Join(out, "release.json")); !os.IsNotExist(err) {
			t.Errorf("a failed publish wrote release.json")
		}
	})
}
