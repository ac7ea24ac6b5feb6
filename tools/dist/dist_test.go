package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/blob"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/provenance"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

func TestBuildFlags(t *testing.T) {
	want := []string{"-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid= -X main.stampedVersion=v1.2.3"}
	if got := buildFlags("v1.2.3"); !slices.Equal(got, want) {
		t.Fatalf("flags %q, want %q", got, want)
	}
	if got := binaryName("v1.2.3", "darwin/arm64"); got != "harden_v1.2.3_darwin_arm64" {
		t.Fatalf("name %s", got)
	}
}

func TestGoEnv(t *testing.T) {
	in := []string{"PATH=/bin", "GOFLAGS=-race", "GOAMD64=v3", "CGO_ENABLED=1", "CGO_CFLAGS=-O3", "GOOS=windows", "GOEXPERIMENT=x", "HOME=/root", "GOWORK=/w/go.work"}
	got := goEnv(in, "linux/arm64")
	want := []string{"PATH=/bin", "HOME=/root", "GOFLAGS=", "GOWORK=off", "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}
	if !slices.Equal(got, want) {
		t.Fatalf("env %q\nwant %q", got, want)
	}
}

func TestCheckPlatforms(t *testing.T) {
	got, err := checkPlatforms([]string{"linux/arm64", "darwin/amd64", "linux/arm64"})
	if err != nil || !slices.Equal(got, []string{"darwin/amd64", "linux/arm64"}) {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"linux", "linux/", "/amd64", "linux/amd64/v2", "linux_amd64", ""} {
		if _, err := checkPlatforms([]string{bad}); errs.ExitCode(err) != errs.CodeInput ||
			err.Error() != fmt.Sprintf("platform %q: use os/arch, e.g. linux/amd64", bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// gitRepo makes a checkout with one commit, tagged tag unless empty.
func gitRepo(t *testing.T, tag string) string {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"config", "user.email", "dev@example.com"},
		{"config", "user.name", "dev"},
		{"config", "commit.gpgsign", "false"},
		{"config", "tag.gpgsign", "false"},
		{"remote", "add", "origin", "https://user:secret@example.com/harden-dev/harden.git"},
	} {
		git(t, dir, args...)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "release")
	if tag != "" {
		git(t, dir, "tag", tag)
	}
	return dir
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// fakeBuild writes a small distinct file per platform and version.
func fakeBuild(_ context.Context, _, platform, version, out string) error {
	return os.WriteFile(out, []byte("harden "+version+" for "+platform+"\n"), 0o755)
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func listDir(t *testing.T, dir string) []string {
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

// TestRunUnsigned: the tag names the release, every platform is built
// under its released name, and SHA256SUMS is sha256sum's format, sorted,
// and passes sha256sum -c.
func TestRunUnsigned(t *testing.T) {
	src := gitRepo(t, "v1.2.3")
	parent := t.TempDir()
	out := filepath.Join(parent, "release")
	res, err := Run(context.Background(), Options{Src: src, Out: out, NoSign: true, Build: fakeBuild})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"harden_v1.2.3_darwin_amd64", "harden_v1.2.3_darwin_arm64", "harden_v1.2.3_linux_amd64", "harden_v1.2.3_linux_arm64"}
	if res.Version != "v1.2.3" || !slices.Equal(res.Binaries, names) || res.Commit != git(t, src, "rev-parse", "HEAD") {
		t.Fatalf("result %+v", res)
	}
	if got := listDir(t, out); !slices.Equal(got, append([]string{"SHA256SUMS"}, names...)) {
		t.Fatalf("release holds %q", got)
	}
	if got := listDir(t, parent); !slices.Equal(got, []string{"release"}) {
		t.Fatalf("left behind next to the release: %q", got)
	}
	var want strings.Builder
	for _, n := range names {
		p := strings.Join(strings.Split(strings.TrimPrefix(n, "harden_v1.2.3_"), "_"), "/")
		fmt.Fprintf(&want, "%s  %s\n", sum("harden v1.2.3 for "+p+"\n"), n)
	}
	got, err := os.ReadFile(filepath.Join(out, SumsFile))
	if err != nil || string(got) != want.String() {
		t.Fatalf("SHA256SUMS:\n%s\nwant:\n%s", got, want.String())
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--check", "--strict", SumsFile)
		cmd.Dir = out
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum --check: %v\n%s", err, b)
		}
	} else {
		t.Log("sha256sum not installed: the format is checked byte for byte only")
	}

	// Asked for one platform and a version, it replaces the release.
	res, err = Run(context.Background(), Options{Src: src, Out: out, NoSign: true, Build: fakeBuild, Version: "v1.2.4-rc.1", Platforms: []string{"linux/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, out); !slices.Equal(got, []string{"SHA256SUMS", "harden_v1.2.4-rc.1_linux_amd64"}) {
		t.Fatalf("release holds %q", got)
	}
}

func TestRunRefuses(t *testing.T) {
	ctx := context.Background()
	tagged := gitRepo(t, "v1.0.0")
	untagged := gitRepo(t, "")
	dirty := gitRepo(t, "v1.0.0")
	if err := os.WriteFile(filepath.Join(dirty, "go.mod"), []byte("module example.com/changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "release")
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"no tag", Options{Src: untagged}, "HEAD carries no tag: tag the release commit (git tag -s v1.2.3) or pass -version"},
		{"dirty", Options{Src: dirty}, dirty + " has uncommitted changes; commit or stash them (a release is built from its commit), or pass -allow-dirty for a test build"},
		{"not git", Options{Src: t.TempDir()}, ""},
		{"bad version", Options{Src: tagged, Version: "1.0/../x"}, `version "1.0/../x": use letters, digits and . + _ - only, e.g. v1.2.3`},
		{"bad platform", Options{Src: tagged, Platforms: []string{"linux"}}, `platform "linux": use os/arch, e.g. linux/amd64`},
		{"missing key", Options{Src: tagged, Signer: attest.SignerParams{KeyPath: filepath.Join(out, "cosign.key")}},
			"read signing key: open " + filepath.Join(out, "cosign.key") + ": no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			o.Out, o.Build = out, fakeBuild
			_, err := Run(ctx, o)
			if errs.ExitCode(err) != errs.CodeInput || (c.want != "" && err.Error() != c.want) {
				t.Fatalf("exit %d: %v\nwant exit 2: %s", errs.ExitCode(err), err, c.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a refused release wrote %s", out)
			}
		})
	}
	t.Run("dirty allowed", func(t *testing.T) {
		if _, err := Run(ctx, Options{Src: dirty, Out: out, NoSign: true, AllowDirty: true, Build: fakeBuild}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("failed build keeps the old release", func(t *testing.T) {
		before := listDir(t, out)
		failing := func(ctx context.Context, src, p, v, o string) error {
			if p == "linux/amd64" {
				return errors.New("compile error")
			}
			return fakeBuild(ctx, src, p, v, o)
		}
		_, err := Run(ctx, Options{Src: tagged, Out: out, NoSign: true, Build: failing})
		if err == nil || err.Error() != "compile error" {
			t.Fatalf("got %v", err)
		}
		if got := listDir(t, out); !slices.Equal(got, before) {
			t.Fatalf("release now holds %q, was %q", got, before)
		}
		if got := listDir(t, filepath.Dir(out)); !slices.Equal(got, []string{"release"}) {
			t.Fatalf("left behind: %q", got)
		}
	})
}

// TestReproducibleBuild builds harden for linux/amd64 with the release
// flags in two separate clones of this repository and requires the same
// bytes. The clones share the Go build cache, as two builds on one
// machine do; path-dependent output (a missing -trimpath) makes the
// compiler outputs differ, and the stamped version must show.
func TestReproducibleBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds harden twice from two clones (minutes); run without -short")
	}
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("this test clones the repository it runs in, which is not a git checkout: %v", err)
	}
	ctx := context.Background()
	const version = "v0.0.0-repro"
	var bins [][]byte
	var clones []string
	for i := range 2 {
		clone := filepath.Join(t.TempDir(), fmt.Sprintf("clone-%d", i))
		git(t, strings.TrimSpace(string(root)), "clone", "-q", "--no-hardlinks", strings.TrimSpace(string(root)), clone)
		out := filepath.Join(t.TempDir(), binaryName(version, "linux/amd64"))
		start := time.Now()
		if err := goBuild(ctx, clone, "linux/amd64", version, out); err != nil {
			t.Fatal(err)
		}
		t.Logf("build %d in %s took %s", i, clone, time.Since(start).Round(time.Second))
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		bins = append(bins, b)
		clones = append(clones, clone)
		if i == 0 {
			v, err := exec.Command(out, "--version").Output()
			if err != nil || !strings.HasPrefix(string(v), "harden "+version) {
				t.Fatalf("%s --version: %q %v, want harden %s", out, v, err, version)
			}
		}
	}
	a, b := sha256.Sum256(bins[0]), sha256.Sum256(bins[1])
	if a != b {
		t.Fatalf("the two builds differ: sha256 %x (%d bytes) and %x (%d bytes)", a, len(bins[0]), b, len(bins[1]))
	}
	for i, c := range clones {
		if bytes.Contains(bins[i], []byte(c)) {
			t.Fatalf("the binary built in %s holds its path", c)
		}
	}
	t.Logf("both builds: sha256 %x, %d bytes", a, len(bins[0]))
}

// TestRunSigned: a keyless release signs SHA256SUMS and the provenance
// of every binary; both verify for the signer's identity, every binary
// verifies against the provenance bundle, and the provenance names
// exactly the binaries, with their digests and platforms.
func TestRunSigned(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: needs the local Sigstore stack (Fulcio, TSA, Rekor v2); run without -short")
	}
	ctx := context.Background()
	st := sigstoretest.Start(t)
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(st.Issuer.Token(t, "release@example.com")), 0o600); err != nil {
		t.Fatal(err)
	}
	src := gitRepo(t, "v2.0.0")
	out := filepath.Join(t.TempDir(), "release")
	res, err := Run(ctx, Options{Src: src, Out: out, Build: fakeBuild, Getenv: func(string) string { return "" },
		Signer: attest.SignerParams{IdentityTokenFile: tok, TrustedRoot: st.TrustedRootPath, SigningConfig: st.SigningConfigPath}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signer != "release@example.com (issuer "+st.Issuer.URL()+")" {
		t.Fatalf("signer %q", res.Signer)
	}
	want := []string{"SHA256SUMS", "SHA256SUMS.sigstore.json", "harden.intoto.sigstore.json",
		"harden_v2.0.0_darwin_amd64", "harden_v2.0.0_darwin_arm64", "harden_v2.0.0_linux_amd64", "harden_v2.0.0_linux_arm64"}
	if got := listDir(t, out); !slices.Equal(got, want) {
		t.Fatalf("release holds %q", got)
	}
	opts := func(file, bundle string) blob.VerifyOptions {
		return blob.VerifyOptions{File: filepath.Join(out, file), Bundle: filepath.Join(out, bundle),
			Identity: blob.Identity{Subject: "release@example.com", Issuer: st.Issuer.URL()}, Trust: sign.TrustOptions{TrustedRootPath: st.TrustedRootPath}}
	}
	if r, err := blob.Verify(ctx, opts(SumsFile, SumsBundle)); err != nil || r.Content != blob.ContentMessage {
		t.Fatalf("SHA256SUMS: %+v %v", r, err)
	}
	var subjects []string
	for _, name := range res.Binaries {
		r, err := blob.Verify(ctx, opts(name, ProvenanceFile))
		if err != nil {
			t.Fatal(err)
		}
		if r.PredicateType != provenance.PredicateType {
			t.Fatalf("%s: predicate %s", name, r.PredicateType)
		}
		subjects = r.Subjects
	}

	// The statement, read from the verified bundle.
	stmt := provenanceStatement(t, filepath.Join(out, ProvenanceFile))
	var wantSubjects []string
	for i, name := range res.Binaries {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256(b)
		wantSubjects = append(wantSubjects, name+"@sha256:"+hex.EncodeToString(d[:]))
		s := stmt.Subject[i]
		platform := strings.Join(strings.Split(strings.TrimPrefix(name, "harden_v2.0.0_"), "_"), "/")
		if s.Name != name || s.Digest["sha256"] != hex.EncodeToString(d[:]) || s.Annotations["platform"] != platform {
			t.Errorf("subject %d is %+v, want %s sha256:%x on %s", i, s, name, d, platform)
		}
	}
	if len(stmt.Subject) != len(res.Binaries) || !slices.Equal(subjects, wantSubjects) {
		t.Fatalf("subjects %q, want %q", subjects, wantSubjects)
	}
	def := stmt.Predicate.BuildDefinition
	if def.BuildType != provenance.GoBuildType || def.ExternalParameters.Version != "v2.0.0" ||
		!slices.Equal(def.ExternalParameters.Flags, buildFlags("v2.0.0")) || def.ExternalParameters.Package != "./cmd/harden" ||
		def.ExternalParameters.Source.URL != "https://example.com/harden-dev/harden.git" ||
		def.ExternalParameters.Source.Revision != res.Commit {
		t.Fatalf("buildDefinition %+v", def)
	}

	// A binary that is not the released one fails against the provenance.
	if err := os.WriteFile(filepath.Join(out, res.Binaries[0]), []byte("tampered"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = blob.Verify(ctx, opts(res.Binaries[0], ProvenanceFile))
	var f *blob.Failure
	if !errors.As(err, &f) || f.Check != "subject" || errs.ExitCode(err) != errs.CodeCheckFailed {
		t.Fatalf("a tampered binary: %v, want the subject check to fail", err)
	}
}

type statement struct {
	Subject []struct {
		Name        string
		Digest      map[string]string
		Annotations map[string]string
	}
	Predicate struct {
		BuildDefinition struct {
			BuildType          string
			ExternalParameters struct {
				Package, Version string
				Flags            []string
				Source           struct{ URL, Revision string }
			}
		}
	}
}

// provenanceStatement decodes the in-toto statement of a DSSE bundle.
func provenanceStatement(t *testing.T, path string) statement {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		DSSEEnvelope struct{ Payload []byte } `json:"dsseEnvelope"`
	}
	var st statement
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b.DSSEEnvelope.Payload, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
