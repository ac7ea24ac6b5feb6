package lock

import (
	"fmt"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// linuxMachines maps Go/OCI platforms to Python's platform.machine() on
// Linux (the kernel's uname -m).
var linuxMachines = map[string]string{
	"amd64":    "x86_64",
	"arm64":    "aarch64",
	"arm64/v8": "aarch64",
	"arm":      "armv7l",
	"arm/v7":   "armv7l",
	"arm/v6":   "armv6l",
	"arm/v5":   "armv5l",
	"386":      "i686",
	"ppc64le":  "ppc64le",
	"s390x":    "s390x",
	"riscv64":  "riscv64",
	"loong64":  "loongarch64",
	"mips64le": "mips64",
}

// TargetEnv returns the marker environment of CPython pythonFullVersion
// (e.g. "3.12.8") on Linux for a Go-style platform such as "linux/amd64",
// "linux/arm64" or "linux/arm/v7". platform_release and platform_version
// describe the build host's kernel, which an image cannot know; they are
// set to "".
func TargetEnv(pythonFullVersion, platform string) (Env, error) {
	full := strings.TrimSpace(pythonFullVersion)
	v, err := pep440.Parse(full)
	if err != nil {
		return nil, fmt.Errorf("python version %q is not a version like 3.12.8: %w", pythonFullVersion, err)
	}
	rel := releaseSegments(v)
	if len(rel) < 2 {
		return nil, fmt.Errorf("python version %q lacks a minor version; want e.g. 3.12.8", pythonFullVersion)
	}
	osName, arch, ok := strings.Cut(platform, "/")
	if !ok || osName != "linux" {
		return nil, fmt.Errorf("platform %q: only linux/<arch>[/<variant>] is supported", platform)
	}
	machine, ok := linuxMachines[arch]
	if !ok {
		return nil, fmt.Errorf("platform %q: unknown architecture %q; use e.g. linux/amd64, linux/arm64 or linux/arm/v7", platform, arch)
	}
	return Env{
		"python_version":                 rel[0] + "." + rel[1],
		"python_full_version":            full,
		"os_name":                        "posix",
		"sys_platform":                   "linux",
		"platform_machine":               machine,
		"platform_system":                "Linux",
		"platform_release":               "",
		"platform_version":               "",
		"implementation_name":            "cpython",
		"implementation_version":         full,
		"platform_python_implementation": "CPython",
		"extra":                          "",
	}, nil
}
