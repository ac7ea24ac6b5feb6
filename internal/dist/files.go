package dist

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/sbom"
	"github.com/harden-dev/harden/internal/scan"
)

// SBOMFileName is the file of platform's SBOM in format f, inside an SBOM
// directory: "linux/arm64/v8" becomes "linux-arm64-v8.spdx.json".
func SBOMFileName(platform string, f sbom.Format) string {
	return platformFile(platform) + f.Extension()
}

// WriteSBOMs writes each document to dir, atomically, and returns the
// paths in order. On error it returns the paths written before it.
func WriteSBOMs(dir string, docs []sbom.Document) ([]string, error) {
	var paths []string
	for _, d := range docs {
		p := filepath.Join(dir, SBOMFileName(d.Platform, d.Format))
		if err := fsutil.WriteFileAtomic(p, d.Bytes, 0o644); err != nil {
			return paths, fmt.Errorf("write SBOM: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// ReadSBOM returns the document WriteSBOMs wrote in dir for platform in
// format f if it was made for the image name@digest (sbom.MadeFor); nil
// when there is none or it was made for another image.
func ReadSBOM(dir, name, platform, digest string, f sbom.Format) (*sbom.Document, error) {
	path := filepath.Join(dir, SBOMFileName(platform, f))
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read SBOM: %w", err)
	}
	ok, err := sbom.MadeFor(b, f, name, digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; delete it or run harden sbom again", path, err)
	}
	if !ok {
		return nil, nil
	}
	return &sbom.Document{Platform: platform, Digest: digest, Format: f, Bytes: b}, nil
}

// SBOMRecord is the release record's entry for a document written by
// WriteSBOMs into the output directory's SBOM directory.
func SBOMRecord(d sbom.Document) SBOMFile {
	sum := sha256.Sum256(d.Bytes)
	return SBOMFile{Platform: d.Platform, Format: string(d.Format), PredicateType: d.Format.PredicateType(),
		Path: filepath.Join(SBOMDir, SBOMFileName(d.Platform, d.Format)), Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(d.Bytes))}
}

// ScanFileName is a platform's report in the scan directory:
// linux-amd64.vuln.json.
func ScanFileName(platform string) string { return platformFile(platform) + ".vuln.json" }

// ScanPath is a platform's report relative to the output directory.
func ScanPath(platform string) string { return filepath.Join(ScanDir, ScanFileName(platform)) }

// WriteScan records a platform's report in the scan directory,
// atomically, for the attestation and for reruns.
func (d Dir) WriteScan(pr scan.PlatformReport) (string, error) {
	b, err := json.MarshalIndent(pr, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode scan report: %w", err)
	}
	if err := os.MkdirAll(d.Scans(), 0o755); err != nil {
		return "", fmt.Errorf("scan report: %w", err)
	}
	path := d.Path(ScanPath(pr.Platform))
	if err := fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// ReadScan reads a platform's report; nil when there is none, or when
// it is for another image (digest).
func (d Dir) ReadScan(platform, digest string) (*scan.PlatformReport, error) {
	path := d.Path(ScanPath(platform))
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var pr scan.PlatformReport
	if err := json.Unmarshal(b, &pr); err != nil || pr.Report == nil {
		return nil, fmt.Errorf("%s is not a scan report (%v); delete it and scan again", path, err)
	}
	if pr.Platform != platform || pr.Digest != digest {
		return nil, nil
	}
	return &pr, nil
}
