package wheel

import (
	"archive/zip"
	"fmt"
	"io"
	"strings"
)

// ReadMetadata returns the parsed core metadata of the wheel in r and the
// raw METADATA bytes. filename names the wheel: its .dist-info directory
// is "<name>-<version>.dist-info" with the filename's name and version,
// matched after normalisation as installers do.
func ReadMetadata(r io.ReaderAt, size int64, filename string) (*Metadata, []byte, error) {
	fn, err := ParseFilename(filename)
	if err != nil {
		return nil, nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("wheel %s is not a zip archive: %w", filename, err)
	}
	var found *zip.File
	for _, f := range zr.File {
		dir, base, ok := strings.Cut(f.Name, "/")
		if !ok || base != "METADATA" || !strings.HasSuffix(dir, ".dist-info") {
			continue
		}
		n, v, ok := strings.Cut(strings.TrimSuffix(dir, ".dist-info"), "-")
		if !ok || NormalizeName(n) != NormalizeName(fn.Name) || !looseVersionEqual(v, fn.Version) {
			continue
		}
		if found != nil {
			return nil, nil, fmt.Errorf("wheel %s has two .dist-info/METADATA files (%s, %s)", filename, found.Name, f.Name)
		}
		found = f
	}
	if found == nil {
		return nil, nil, fmt.Errorf("wheel %s has no %s-%s.dist-info/METADATA", filename, fn.Name, fn.Version)
	}
	raw, err := readMember(found)
	if err != nil {
		return nil, nil, fmt.Errorf("wheel %s: read %s: %w", filename, found.Name, err)
	}
	md, err := ParseMetadata(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("wheel %s: %w", filename, err)
	}
	return md, raw, nil
}
