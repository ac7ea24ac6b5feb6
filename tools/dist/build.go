package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// mainPackage is what a release builds.
const mainPackage = "./cmd/harden"

// defaultPlatforms are the platforms of a release.
func defaultPlatforms() []string {
	return []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"}
}

// buildEnv is set for every platform, besides GOOS and GOARCH.
func buildEnv() map[string]string { return map[string]string{"CGO_ENABLED": "0"} }

// versionRE is what a version may hold: it becomes part of file names
// and of the linker flags.
var versionRE = regexp.MustCompile(`^v?[0-9A-Za-z][0-9A-Za-z.+_-]*$`)

// builder builds the main package in src for one platform into out.
type builder func(ctx context.Context, src, platform, version, out string) error

// buildFlags are the go build flags of a release, without -o: no paths,
// no VCS stamp, no build id, stripped, the version stamped in.
func buildFlags(version string) []string {
	return []string{"-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid= -X main.stampedVersion=" + version}
}

// binaryName is the released file name of one platform's binary.
func binaryName(version, platform string) string {
	goos, goarch, _ := strings.Cut(platform, "/")
	return fmt.Sprintf("harden_%s_%s_%s", version, goos, goarch)
}

// goEnv is the environment of a release build: the caller's, less every
// variable that changes what the toolchain emits, plus buildEnv.
func goEnv(environ []string, platform string) []string {
	goos, goarch, _ := strings.Cut(platform, "/")
	drop := []string{"GOFLAGS", "GOOS", "GOARCH", "GOAMD64", "GOARM", "GOARM64", "GO386", "GOEXPERIMENT", "GOWORK"}
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(drop, k) || strings.HasPrefix(k, "CGO_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GOFLAGS=", "GOWORK=off", "GOOS="+goos, "GOARCH="+goarch)
	for _, k := range slices.Sorted(maps.Keys(buildEnv())) {
		env = append(env, k+"="+buildEnv()[k])
	}
	return env
}

// goBuild runs the release build of one platform.
func goBuild(ctx context.Context, src, platform, version, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	args := append([]string{"build"}, buildFlags(version)...)
	args = append(args, "-o", abs, mainPackage)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	cmd.Env = goEnv(os.Environ(), platform)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", mainPackage, platform, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// goVersion is the toolchain go build uses in src.
func goVersion(ctx context.Context, src string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = src
	cmd.Env = goEnv(os.Environ(), "linux/amd64")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
