// Package buildinfo says which harden is running: the version `go
// install …@vX` or a release build stamped, the commit and the Go
// toolchain, from the binary's own build information.
package buildinfo

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// Info identifies a harden binary.
type Info struct {
	Version   string `json:"version"`          // v1.2.3, or dev-<commit>, or dev
	Commit    string `json:"commit,omitempty"` // VCS revision, when stamped
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// Read returns the running binary's Info. stamped, when not empty, is a
// version set at link time (-X main.version=…) and wins.
func Read(stamped string) Info {
	bi, _ := debug.ReadBuildInfo()
	return From(bi, stamped)
}

// From is Read for given build information (nil: none).
func From(bi *debug.BuildInfo, stamped string) Info {
	in := Info{Version: "dev"}
	if bi == nil {
		if stamped != "" {
			in.Version = stamped
		}
		return in
	}
	in.GoVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	switch v := bi.Main.Version; {
	case stamped != "":
		in.Version = stamped
	case v != "" && v != "(devel)":
		in.Version = v // go install …@v1.2.3
	case in.Commit != "":
		in.Version = "dev-" + in.Commit[:min(12, len(in.Commit))]
		if in.Modified {
			in.Version += "-dirty"
		}
	}
	return in
}

// String is the one line harden --version prints.
func (i Info) String() string {
	var b strings.Builder
	b.WriteString("harden " + i.Version)
	var extra []string
	if i.Commit != "" && !strings.Contains(i.Version, i.Commit[:min(12, len(i.Commit))]) {
		extra = append(extra, "commit "+i.Commit)
	}
	if i.GoVersion != "" {
		extra = append(extra, i.GoVersion)
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	return b.String()
}

// releaseTag is a release version, not a pseudo-version.
var releaseTag = regexp.MustCompile(`^v\d+\.\d+\.\d+(-(alpha|beta|rc)[0-9.]*)?$`)

// SourceRef is the ref of harden's repository this binary was built
// from: its release tag, else its commit when the tree was clean, else
// main.
func (i Info) SourceRef() string {
	switch {
	case releaseTag.MatchString(i.Version):
		return i.Version
	case len(i.Commit) == 40 && !i.Modified:
		return i.Commit
	}
	return "main"
}

// DocURL is the page at path (e.g. "docs/vsa.md") of harden's repository
// as of this binary, so help links describe the harden that prints them.
func (i Info) DocURL(path string) string {
	return "https://github.com/harden-dev/harden/blob/" + i.SourceRef() + "/" + path
}
