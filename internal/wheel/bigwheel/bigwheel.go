// Package bigwheel writes synthetic wheels of any size, as large as the
// machine-learning wheels (torch, tensorflow) harden has to build, for
// benchmarks and memory tests. The payload is incompressible
// pseudo-random data from a seeded ChaCha8 stream, so the same arguments
// always give the same bytes (with the same Go toolchain: the small
// members are deflated by compress/flate) and nothing large is ever
// committed.
//
// The wheel is a plain wheel 1.0 (py3-none-any, purelib):
//
//	<dist>/__init__.py
//	<dist>/data/blob-0000.bin ... one per MemberSize bytes of payload, stored
//	<dist>-<version>.dist-info/METADATA
//	<dist>-<version>.dist-info/WHEEL
//	<dist>-<version>.dist-info/RECORD
//
// Every member is written with its CRC-32 and sizes in the local header
// (no data descriptors), as Python's zipfile writes wheels, and all
// modification times are 1980-01-01 00:00.
package bigwheel

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
)

// MemberSize is the largest payload member Write puts in a wheel.
const MemberSize = 64 << 20

// chunk is how much pseudo-random data is generated and written at once.
const chunk = 1 << 20

var (
	distRe    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	versionRe = regexp.MustCompile(`^[A-Za-z0-9.!+_]+$`)
	escapeRe  = regexp.MustCompile(`[-_.]+`)
)

// Filename is the wheel file name for dist and version: the name
// escaped as the wheel spec says ("-", "_" and "." runs become "_"),
// tagged py3-none-any.
func Filename(dist, version string) string {
	return escapeRe.ReplaceAllString(dist, "_") + "-" + version + "-py3-none-any.whl"
}

// Write writes a wheel of dist version holding payload bytes of
// pseudo-random data drawn from seed to path, whose base name must be
// Filename(dist, version). It returns the sha256 of the whole file in
// hex, for a hash lock. Memory use is a few MiB whatever the payload.
func Write(path, dist, version string, payload int64, seed uint64) (string, error) {
	return write(path, dist, version, payload, seed, MemberSize)
}

// member is one file of the wheel, for RECORD.
type member struct {
	name   string
	sha256 []byte
	size   int64
}

func write(path, dist, version string, payload int64, seed uint64, memberSize int64) (sum string, err error) {
	switch {
	case !distRe.MatchString(dist):
		return "", fmt.Errorf("bigwheel: invalid distribution name %q", dist)
	case !versionRe.MatchString(version):
		return "", fmt.Errorf("bigwheel: invalid version %q (no \"-\", see PEP 440)", version)
	case filepath.Base(path) != Filename(dist, version):
		return "", fmt.Errorf("bigwheel: %s: a wheel of %s %s must be named %s", path, dist, version, Filename(dist, version))
	case payload < 0:
		return "", fmt.Errorf("bigwheel: negative payload %d", payload)
	case memberSize <= 0:
		return "", fmt.Errorf("bigwheel: member size %d", memberSize)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("bigwheel: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("bigwheel: close %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	fileHash := sha256.New()
	zw := zip.NewWriter(io.MultiWriter(f, fileHash))
	pkg := escapeRe.ReplaceAllString(dist, "_")
	distInfo := pkg + "-" + version + ".dist-info/"
	var record []member

	initPy := fmt.Sprintf("\"\"\"Synthetic wheel: %d bytes of incompressible data in data/.\"\"\"\n\n__version__ = %q\n", payload, version)
	if err := writeText(zw, pkg+"/__init__.py", []byte(initPy), &record); err != nil {
		return "", err
	}
	buf := make([]byte, chunk)
	for i := int64(0); i*memberSize < payload; i++ {
		n := min(memberSize, payload-i*memberSize)
		name := fmt.Sprintf("%s/data/blob-%04d.bin", pkg, i)
		if err := writeBlob(zw, name, n, blobSeed(seed, i), buf, &record); err != nil {
			return "", err
		}
	}
	metadata := fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: Synthetic incompressible payload of %d bytes\n", dist, version, payload)
	if err := writeText(zw, distInfo+"METADATA", []byte(metadata), &record); err != nil {
		return "", err
	}
	wheel := "Wheel-Version: 1.0\nGenerator: harden-bigwheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	if err := writeText(zw, distInfo+"WHEEL", []byte(wheel), &record); err != nil {
		return "", err
	}
	var rec bytes.Buffer
	for _, m := range record {
		fmt.Fprintf(&rec, "%s,sha256=%s,%d\n", m.name, base64.RawURLEncoding.EncodeToString(m.sha256), m.size)
	}
	fmt.Fprintf(&rec, "%sRECORD,,\n", distInfo)
	if err := writeText(zw, distInfo+"RECORD", rec.Bytes(), nil); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("bigwheel: write %s: %w", path, err)
	}
	return hex.EncodeToString(fileHash.Sum(nil)), nil
}

// header is the fixed part of every member's header: 1980-01-01 00:00
// (MS-DOS date 0x21, time 0), Unix mode 0644.
func header(name string, method uint16) *zip.FileHeader {
	fh := &zip.FileHeader{Name: name, Method: method, ModifiedDate: 1<<5 | 1}
	fh.SetMode(0o644)
	fh.CreatorVersion |= 20
	fh.ReaderVersion = 20
	return fh
}

// writeText deflates a small member in memory and adds it, recording
// its hash in record unless record is nil (RECORD itself).
func writeText(zw *zip.Writer, name string, data []byte, record *[]member) error {
	var comp bytes.Buffer
	fw, err := flate.NewWriter(&comp, flate.BestCompression)
	if err != nil {
		return fmt.Errorf("bigwheel: deflate %s: %w", name, err)
	}
	if _, err := fw.Write(data); err != nil {
		return fmt.Errorf("bigwheel: deflate %s: %w", name, err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("bigwheel: deflate %s: %w", name, err)
	}
	fh := header(name, zip.Deflate)
	fh.CRC32 = crc32.ChecksumIEEE(data)
	fh.CompressedSize64 = uint64(comp.Len())
	fh.UncompressedSize64 = uint64(len(data))
	w, err := zw.CreateRaw(fh)
	if err == nil {
		_, err = w.Write(comp.Bytes())
	}
	if err != nil {
		return fmt.Errorf("bigwheel: write %s: %w", name, err)
	}
	if record != nil {
		h := sha256.Sum256(data)
		*record = append(*record, member{name: name, sha256: h[:], size: int64(len(data))})
	}
	return nil
}

// writeBlob adds a stored member of n bytes from the ChaCha8 stream of
// seed. The local header needs the CRC-32 before the data, so the
// stream is generated twice: once for the CRC-32 and sha256, once to
// write it.
func writeBlob(zw *zip.Writer, name string, n int64, seed [32]byte, buf []byte, record *[]member) error {
	crc, sha := crc32.NewIEEE(), sha256.New()
	if err := generate(io.MultiWriter(crc, sha), n, seed, buf); err != nil {
		return fmt.Errorf("bigwheel: hash %s: %w", name, err)
	}
	fh := header(name, zip.Store)
	fh.CRC32 = crc.Sum32()
	fh.CompressedSize64, fh.UncompressedSize64 = uint64(n), uint64(n)
	w, err := zw.CreateRaw(fh)
	if err != nil {
		return fmt.Errorf("bigwheel: write %s: %w", name, err)
	}
	// The zip writer trusts the header, so check the second stream.
	check := crc32.NewIEEE()
	if err := generate(io.MultiWriter(w, check), n, seed, buf); err != nil {
		return fmt.Errorf("bigwheel: write %s: %w", name, err)
	}
	if check.Sum32() != fh.CRC32 {
		return errors.New("bigwheel: " + name + ": the pseudo-random stream changed between passes")
	}
	*record = append(*record, member{name: name, sha256: sha.Sum(nil), size: n})
	return nil
}

// generate writes n bytes of the ChaCha8 stream of seed to w, through buf.
func generate(w io.Writer, n int64, seed [32]byte, buf []byte) error {
	r := rand.NewChaCha8(seed)
	for n > 0 {
		b := buf[:min(int64(len(buf)), n)]
		r.Read(b) // never fails
		if _, err := w.Write(b); err != nil {
			return err
		}
		n -= int64(len(b))
	}
	return nil
}

// blobSeed is the ChaCha8 seed of blob i: each blob has its own stream,
// so that it can be generated again on its own.
func blobSeed(seed uint64, i int64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[0:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(i))
	copy(s[16:], "harden-bigwheel")
	return s
}
