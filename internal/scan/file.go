package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/harden-dev/harden/internal/fsutil"
)

// FileName is the report file of one platform, in a release's scan/
// directory: linux-amd64.vuln.json.
func FileName(platform string) string {
	return strings.ReplaceAll(platform, "/", "-") + ".vuln.json"
}

// WriteFile records a platform's report (atomically), for the
// attestation and for reruns.
func WriteFile(dir string, pr PlatformReport) (string, error) {
	b, err := json.MarshalIndent(pr, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode scan report: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("scan report: %w", err)
	}
	path := filepath.Join(dir, FileName(pr.Platform))
	if err := fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// ReadFile reads a platform's report; nil when there is none, or when it
// is for another image (digest).
func ReadFile(dir, platform, digest string) (*PlatformReport, error) {
	path := filepath.Join(dir, FileName(platform))
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var pr PlatformReport
	if err := json.Unmarshal(b, &pr); err != nil || pr.Report == nil {
		return nil, fmt.Errorf("%s is not a scan report (%v); delete it and scan again", path, err)
	}
	if pr.Platform != platform || pr.Digest != digest {
		return nil, nil
	}
	return &pr, nil
}
