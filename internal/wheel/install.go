package wheel

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	units "github.com/docker/go-units"
	"hash"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/harden-dev/harden/internal/layer"
)

// Scheme maps wheel install categories to absolute paths inside the image.
// Headers is the include directory; files of the "headers" category go to
// Headers/<METADATA Name>/, as distutils' "$base/include/pythonX.Y/$dist_name"
// and pip do.
type Scheme struct{ Purelib, Platlib, Scripts, Data, Headers string }

// InstallOptions configures Install.
type InstallOptions struct {
	Scheme      Scheme
	Interpreter string // absolute path used in script shebangs, e.g. "/usr/bin/python3.11"
	Requested   bool   // write REQUESTED (a top-level requirement)
	Installer   string // INSTALLER content, default "harden"
	// MaxSize bounds the bytes the wheel may install (the sum of its
	// members' declared sizes); 0 means DefaultMaxSize.
	MaxSize int64
}

// DefaultMaxSize is the default per-wheel bound on installed bytes: above
// the largest machine-learning wheels published (a CUDA build of torch
// installs under 5 GiB), far below what would fill a build disk by
// surprise.
const DefaultMaxSize = 16 << 30

// SizeError is a wheel that would install more than its limit.
type SizeError struct {
	Wheel       string
	Size, Limit int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("wheel %s would install %s, more than the per-wheel limit of %s; refusing to install", e.Wheel, units.BytesSize(float64(e.Size)), units.BytesSize(float64(e.Limit)))
}

// Installed describes what one wheel laid down.
type Installed struct {
	Name, Version  string   // from METADATA
	DistInfo       string   // absolute dist-info dir in the image
	Files          []string // absolute paths written (files and symlinks), sorted
	ConsoleScripts []string // console_scripts and gui_scripts names, sorted
	Metadata       *Metadata
	Warnings       []string // non-fatal findings, e.g. a newer Wheel-Version minor
}

// The wheel format this installer implements (1.0), and a bound on a
// member it reads into memory (metadata, scripts, symlink targets); the
// rest is streamed when the tree is written.
const (
	supportedWheelMajor = 1
	supportedWheelMinor = 0
	maxInMemory         = 16 << 20
)

const trusted = "Use a wheel from a trusted source."

// member is one file or symlink of the archive. Metadata, scripts and
// link targets are read into data; other members are streamed from f
// when the tree is written, checked against want (their RECORD entry).
type member struct {
	name string
	f    *zip.File
	link bool
	exec bool
	data []byte
	sha  []byte // sha256 of the content, when known
	want RecordEntry
}

// staged is one entry about to be written.
type staged struct {
	dest   string // absolute path in the image
	root   string // scheme dir it must stay in
	from   string // archive member or "(generated)"
	link   bool
	mode   int64
	data   []byte  // content in memory, or nil: streamed from m
	m      *member // the archive member streamed, when data is nil
	sha256 []byte  // of the content, when already known
}

func (s *staged) size() int64 {
	if s.data == nil && s.m != nil {
		return int64(s.m.f.UncompressedSize64)
	}
	return int64(len(s.data))
}

type installer struct {
	wheel string
	opts  InstallOptions
	tree  *layer.Tree
	fn    Filename
	res   *Installed
}

func (in *installer) bad(member, problem, remedy string) error {
	if member == "" {
		return fmt.Errorf("wheel %s %s; refusing to install. %s", in.wheel, problem, remedy)
	}
	return fmt.Errorf("wheel %s: member %q: %s; refusing to install. %s", in.wheel, member, problem, remedy)
}

// Install unpacks one wheel (r, size: the .whl zip) into tree, per the
// wheel 1.0 spec. It validates names, placement, RECORD and the metadata
// before it adds anything, so on error the tree is unchanged. Large
// members are not read here: their entries stream from r when the tree is
// written and fail the write if they do not match RECORD, so r must stay
// readable until then. It never writes outside the scheme dirs and writes
// no .pyc files (there is no interpreter at build time).
func Install(r io.ReaderAt, size int64, filename string, tree *layer.Tree, opts InstallOptions) (*Installed, error) {
	fn, err := ParseFilename(filename)
	if err != nil {
		return nil, err
	}
	if opts.Installer == "" {
		opts.Installer = "harden"
	}
	in := &installer{wheel: filename, opts: opts, tree: tree, fn: fn, res: &Installed{}}
	return in.run(r, size)
}

func (in *installer) run(r io.ReaderAt, size int64) (*Installed, error) {
	if strings.ContainsAny(in.opts.Installer, "\n\r") {
		return nil, errors.New("InstallOptions.Installer must be a single line")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("wheel %s is not a readable zip archive (%v); re-download it", in.wheel, err)
	}
	members, distInfo, err := in.scan(zr)
	if err != nil {
		return nil, err
	}
	byName := map[string]*member{}
	for _, m := range members {
		byName[m.name] = m
	}
	if err := in.checkSize(members); err != nil {
		return nil, err
	}
	if err := in.readSmall(members, distInfo); err != nil {
		return nil, err
	}
	if err := in.verifyRecord(members, byName, distInfo); err != nil {
		return nil, err
	}
	purelib, err := in.readWheelFile(byName, distInfo)
	if err != nil {
		return nil, err
	}
	mdm := byName[distInfo+"/METADATA"]
	if mdm == nil || mdm.link {
		return nil, in.bad("", "has no "+distInfo+"/METADATA", trusted)
	}
	md, err := ParseMetadata(mdm.data)
	if err != nil {
		return nil, in.bad(distInfo+"/METADATA", err.Error(), trusted)
	}
	if NormalizeName(md.Name) != NormalizeName(in.fn.Name) {
		return nil, in.bad(distInfo+"/METADATA", fmt.Sprintf("declares project %q but the filename says %q", md.Name, in.fn.Name), "The file is mislabelled. "+trusted)
	}
	if !looseVersionEqual(md.Version, in.fn.Version) {
		in.res.Warnings = append(in.res.Warnings, fmt.Sprintf("wheel %s: METADATA says version %q, the filename %q", in.wheel, md.Version, in.fn.Version))
	}
	in.res.Name, in.res.Version, in.res.Metadata = md.Name, md.Version, md

	root, err := in.schemeDir("purelib", purelib)
	if err != nil {
		return nil, err
	}
	stage, err := in.mapMembers(members, distInfo, root, md.Name)
	if err != nil {
		return nil, err
	}
	scripts, err := in.entryPointScripts(byName, distInfo)
	if err != nil {
		return nil, err
	}
	stage = append(stage, scripts...)
	in.res.DistInfo = path.Join(root, distInfo)
	stage = append(stage, staged{dest: path.Join(in.res.DistInfo, "INSTALLER"), root: root, from: "(generated)", mode: 0o644, data: []byte(in.opts.Installer + "\n")})
	if in.opts.Requested {
		stage = append(stage, staged{dest: path.Join(in.res.DistInfo, "REQUESTED"), root: root, from: "(generated)", mode: 0o644, data: []byte{}})
	}
	recPath := path.Join(in.res.DistInfo, "RECORD")
	stage = append(stage, staged{dest: recPath, root: root, from: "(generated)", mode: 0o644})
	if err := in.checkStage(stage); err != nil {
		return nil, err
	}
	last := len(stage) - 1
	if err := in.hashStreamed(stage[:last]); err != nil {
		return nil, err
	}
	stage[last].data = recordFor(stage[:last], root, recPath)
	for i := range stage {
		s := &stage[i]
		var err error
		switch {
		case s.link:
			err = in.tree.AddSymlink(s.dest, string(s.data))
		case s.data == nil && s.m != nil:
			m := s.m
			err = in.tree.Add(layer.Entry{Path: s.dest, Type: tar.TypeReg, Mode: s.mode, Size: s.size(),
				Open: func() (io.ReadCloser, error) { return in.open(m) }})
		default:
			err = in.tree.Add(layer.Entry{Path: s.dest, Type: tar.TypeReg, Mode: s.mode, Data: s.data})
		}
		if err != nil { // checkStage makes this unreachable; keep the message useful
			return nil, fmt.Errorf("wheel %s: write %s: %w", in.wheel, s.dest, err)
		}
		in.res.Files = append(in.res.Files, s.dest)
	}
	sort.Strings(in.res.Files)
	sort.Strings(in.res.ConsoleScripts)
	return in.res, nil
}

// scan validates every archive name and type and finds the dist-info dir.
// Directory entries are checked but not installed (as pip: empty
// directories are not created).
func (in *installer) scan(zr *zip.Reader) ([]*member, string, error) {
	seen := map[string]bool{}
	var members []*member
	tops := map[string]bool{}
	for _, f := range zr.File {
		name := f.Name
		isDir := strings.HasSuffix(name, "/")
		clean := strings.TrimSuffix(name, "/")
		if problem := checkMemberName(name, clean); problem != "" {
			return nil, "", fmt.Errorf("wheel %s contains %s; refusing to install. %s", in.wheel, problem, trusted)
		}
		if seen[clean] {
			return nil, "", in.bad(name, "appears twice in the archive", trusted)
		}
		seen[clean] = true
		mode := f.Mode()
		if mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			return nil, "", in.bad(name, "has the setuid or setgid bit set", trusted)
		}
		if mode&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeDevice|fs.ModeCharDevice|fs.ModeIrregular) != 0 {
			return nil, "", in.bad(name, "is a device, pipe or socket, which wheels cannot contain", trusted)
		}
		if isDir {
			continue
		}
		if mode.IsDir() {
			return nil, "", in.bad(name, "is marked as a directory but its name has no trailing slash", trusted)
		}
		if top, _, ok := strings.Cut(clean, "/"); ok && strings.HasSuffix(top, ".dist-info") {
			tops[top] = true
		}
		members = append(members, &member{name: clean, f: f, link: mode&fs.ModeSymlink != 0, exec: mode.Perm()&0o111 != 0})
	}
	// A file and a directory of the same name: "a" and "a/b".
	files := make(map[string]bool, len(members))
	for _, m := range members {
		files[m.name] = true
	}
	for _, m := range members {
		for p := path.Dir(m.name); p != "."; p = path.Dir(p) {
			if files[p] {
				return nil, "", in.bad(m.name, fmt.Sprintf("lies under %q, which is a file", p), trusted)
			}
		}
	}
	if len(tops) != 1 {
		var names []string
		for t := range tops {
			names = append(names, t)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, "", in.bad("", "has no .dist-info directory", "It is not a valid wheel. "+trusted)
		}
		return nil, "", in.bad("", "has several .dist-info directories ("+strings.Join(names, ", ")+")", "It is not a valid wheel. "+trusted)
	}
	var distInfo string
	for t := range tops {
		distInfo = t
	}
	if !in.namesThisDist(strings.TrimSuffix(distInfo, ".dist-info")) {
		return nil, "", in.bad(distInfo, fmt.Sprintf("does not match the filename's %s-%s", in.fn.Name, in.fn.Version), "The file is mislabelled. "+trusted)
	}
	return members, distInfo, nil
}

// namesThisDist reports whether "name-version" (a .dist-info or .data
// dir without its suffix) matches the wheel's filename. Names compare
// after PEP 503 normalisation, versions loosely.
func (in *installer) namesThisDist(base string) bool {
	i := strings.LastIndex(base, "-")
	return i > 0 && NormalizeName(base[:i]) == NormalizeName(in.fn.Name) && looseVersionEqual(base[i+1:], in.fn.Version)
}

// checkMemberName returns a description of what is wrong with an archive
// name, or "".
func checkMemberName(raw, clean string) string {
	q := strconv.Quote(raw)
	switch {
	case clean == "":
		return "an empty member name"
	case strings.IndexByte(raw, 0) >= 0:
		return "a NUL byte in member name " + q
	case !utf8.ValidString(raw):
		return "a member name that is not valid UTF-8: " + q
	case strings.Contains(raw, "\\"):
		return "a backslash in member name " + q
	case strings.HasPrefix(raw, "/"):
		return "an absolute path " + q
	case len(raw) >= 2 && raw[1] == ':' && (raw[0]|0x20 >= 'a' && raw[0]|0x20 <= 'z'):
		return "a drive-letter path " + q
	}
	for _, seg := range strings.Split(clean, "/") {
		switch seg {
		case "..":
			return "a path with a '..' segment " + q
		case "", ".":
			return "a non-canonical path (empty or '.' segment) " + q
		}
	}
	return ""
}

// checkSize bounds what the wheel installs by the members' declared
// sizes; the zip reader refuses a member that inflates beyond its
// declared size, so this bounds the bytes written too.
func (in *installer) checkSize(members []*member) error {
	limit := in.opts.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	var total uint64
	for _, m := range members {
		total += m.f.UncompressedSize64
		if m.f.UncompressedSize64 > uint64(limit) || total > uint64(limit) {
			var all uint64
			for _, m := range members {
				all += m.f.UncompressedSize64
			}
			return &SizeError{Wheel: in.wheel, Size: int64(min(all, 1<<62)), Limit: limit}
		}
	}
	return nil
}

// inMemory reports whether a member is read now: what the installer
// decides on (dist-info metadata), what it may rewrite (scripts) and
// symlink targets.
func inMemory(m *member, distInfo string) bool {
	if m.link || strings.HasPrefix(m.name, distInfo+"/") && !strings.Contains(strings.TrimPrefix(m.name, distInfo+"/"), "/") {
		return true
	}
	top, rest, _ := strings.Cut(m.name, "/")
	return strings.HasSuffix(top, ".data") && strings.HasPrefix(rest, "scripts/")
}

// readSmall reads the members inMemory selects, hashing them with sha256
// on the way. The others are only hashed when the tree is written.
func (in *installer) readSmall(members []*member, distInfo string) error {
	for _, m := range members {
		if !inMemory(m, distInfo) {
			continue
		}
		if m.f.UncompressedSize64 > maxInMemory {
			return in.bad(m.name, fmt.Sprintf("is %s; harden reads metadata, scripts and links of at most %s", units.BytesSize(float64(m.f.UncompressedSize64)), units.BytesSize(maxInMemory)), trusted)
		}
		data, err := readMember(m.f)
		if err != nil {
			return in.bad(m.name, "cannot be decompressed: "+err.Error(), "Re-download the wheel.")
		}
		sum := sha256.Sum256(data)
		m.data, m.sha = data, sum[:]
	}
	return nil
}

// readMember reads one member. The zip reader enforces the declared size
// and checks the CRC at EOF.
func readMember(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, f.UncompressedSize64)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, err
	}
	var one [1]byte
	if k, err := rc.Read(one[:]); k != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("more data than its declared size")
		}
		return nil, err
	}
	return buf, nil
}

// open streams a member checked against its RECORD entry: the reader
// returns an error instead of EOF when the content does not match.
func (in *installer) open(m *member) (io.ReadCloser, error) {
	rc, err := m.f.Open()
	if err != nil {
		return nil, in.bad(m.name, "cannot be read: "+err.Error(), "Re-download the wheel.")
	}
	h, err := newRecordHash(m.want)
	if err != nil {
		rc.Close()
		return nil, in.bad(m.name, err.Error(), trusted)
	}
	return &checkedReader{rc: rc, h: h, in: in, m: m}, nil
}

type checkedReader struct {
	rc io.ReadCloser
	h  hash.Hash
	n  int64
	in *installer
	m  *member
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err == io.EOF {
		if cerr := checkSum(c.m.want, c.h.Sum(nil), c.n); cerr != nil {
			return n, c.in.bad(c.m.name, cerr.Error(), "The file was altered after the wheel was built; re-download it from a trusted source.")
		}
	} else if err != nil {
		err = c.in.bad(c.m.name, "cannot be decompressed: "+err.Error(), "Re-download the wheel.")
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }

// hashStreamed computes the sha256 the installed RECORD needs for
// streamed members whose wheel RECORD uses another hash, checking them
// on the way. Wheels almost always record sha256, so this rarely reads.
func (in *installer) hashStreamed(stage []staged) error {
	for i := range stage {
		s := &stage[i]
		if s.data != nil || s.m == nil || s.sha256 != nil {
			continue
		}
		rc, err := in.open(s.m)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return err
		}
		s.sha256 = h.Sum(nil)
	}
	return nil
}

func isSignature(name, distInfo string) bool {
	return name == distInfo+"/RECORD.jws" || name == distInfo+"/RECORD.p7s"
}

// verifyRecord checks the archive against its RECORD in both directions.
func (in *installer) verifyRecord(members []*member, byName map[string]*member, distInfo string) error {
	recName := distInfo + "/RECORD"
	rm := byName[recName]
	if rm == nil || rm.link {
		return in.bad("", "has no "+recName, "It is not a valid wheel. "+trusted)
	}
	entries, err := ParseRecord(rm.data)
	if err != nil {
		return in.bad(recName, err.Error(), trusted)
	}
	rec := make(map[string]RecordEntry, len(entries))
	for _, e := range entries {
		if _, dup := rec[e.Path]; dup {
			return in.bad(recName, fmt.Sprintf("lists %q twice", e.Path), trusted)
		}
		rec[e.Path] = e
	}
	for _, m := range members {
		if m.name == recName || isSignature(m.name, distInfo) {
			continue
		}
		e, ok := rec[m.name]
		if !ok {
			return in.bad(m.name, "is not listed in RECORD", "A file was added after the wheel was built. "+trusted)
		}
		m.want = e
		if m.data == nil {
			// Streamed: the content is checked when it is written; the
			// entry and the declared size are checked now.
			if err := checkDeclared(e, int64(m.f.UncompressedSize64)); err != nil {
				return in.bad(m.name, err.Error(), trusted)
			}
			if algo, want, _ := strings.Cut(e.Hash, "="); strings.EqualFold(algo, "sha256") {
				m.sha, _ = base64.RawURLEncoding.DecodeString(strings.TrimRight(want, "="))
			}
			continue
		}
		if err := checkHash(e, m.data, m.sha); err != nil {
			return in.bad(m.name, err.Error(), "The file was altered after the wheel was built; re-download it from a trusted source.")
		}
	}
	for _, e := range entries {
		if e.Path == recName || isSignature(e.Path, distInfo) {
			continue
		}
		if _, ok := byName[e.Path]; !ok {
			return in.bad(e.Path, "is listed in RECORD but missing from the archive", "The wheel is truncated or altered; re-download it from a trusted source.")
		}
	}
	return nil
}

// newRecordHash returns the hash a RECORD entry uses, refusing weak and
// unknown ones.
func newRecordHash(e RecordEntry) (hash.Hash, error) {
	if e.Hash == "" {
		return nil, errors.New("has no hash in RECORD")
	}
	algo, _, _ := strings.Cut(e.Hash, "=")
	switch strings.ToLower(algo) {
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	case "md5", "sha1", "sha224":
		return nil, fmt.Errorf("is recorded with the weak hash %s; only sha256, sha384 and sha512 are accepted", algo)
	}
	return nil, fmt.Errorf("is recorded with the unsupported hash %q", algo)
}

// checkDeclared checks a RECORD entry without the content: a usable
// hash, and the size the archive declares.
func checkDeclared(e RecordEntry, size int64) error {
	h, err := newRecordHash(e)
	if err != nil {
		return err
	}
	algo, want, _ := strings.Cut(e.Hash, "=")
	if sum, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(want, "=")); err != nil || len(sum) != h.Size() {
		return fmt.Errorf("has a malformed %s digest in RECORD", algo)
	}
	if e.Size >= 0 && e.Size != size {
		return fmt.Errorf("size mismatch: RECORD says %d bytes, the archive %d", e.Size, size)
	}
	return nil
}

// checkSum compares content's digest (in the entry's algorithm) and
// length with a RECORD entry.
func checkSum(e RecordEntry, got []byte, n int64) error {
	algo, want, _ := strings.Cut(e.Hash, "=")
	wantSum, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(want, "="))
	if err != nil || len(wantSum) != len(got) {
		return fmt.Errorf("has a malformed %s digest in RECORD", algo)
	}
	if !bytes.Equal(got, wantSum) {
		return fmt.Errorf("%s mismatch: RECORD says %s, content is %s=%s", algo, e.Hash, algo, base64.RawURLEncoding.EncodeToString(got))
	}
	if e.Size >= 0 && e.Size != n {
		return fmt.Errorf("size mismatch: RECORD says %d bytes, content has %d", e.Size, n)
	}
	return nil
}

// checkHash verifies data against a RECORD entry; sha is data's sha256,
// computed already.
func checkHash(e RecordEntry, data, sha []byte) error {
	h, err := newRecordHash(e)
	if err != nil {
		return err
	}
	got := sha
	if algo, _, _ := strings.Cut(e.Hash, "="); !strings.EqualFold(algo, "sha256") {
		h.Write(data)
		got = h.Sum(nil)
	}
	return checkSum(e, got, int64(len(data)))
}

// readWheelFile checks WHEEL and reports whether the root is purelib.
func (in *installer) readWheelFile(byName map[string]*member, distInfo string) (bool, error) {
	name := distInfo + "/WHEEL"
	m := byName[name]
	if m == nil || m.link {
		return false, in.bad("", "has no "+name, "It is not a valid wheel. "+trusted)
	}
	hs, err := parseHeaders(m.data)
	if err != nil {
		return false, in.bad(name, err.Error(), trusted)
	}
	var version, purelib string
	for _, h := range hs {
		switch strings.ToLower(h.key) {
		case "wheel-version":
			version = h.value
		case "root-is-purelib":
			purelib = h.value
		}
	}
	if version == "" {
		return false, in.bad(name, "has no Wheel-Version", trusted)
	}
	majS, minS, _ := strings.Cut(version, ".")
	maj, err1 := strconv.Atoi(majS)
	min, err2 := strconv.Atoi(minS)
	if err1 != nil || err2 != nil || maj < 0 || min < 0 {
		return false, in.bad(name, fmt.Sprintf("has an unparsable Wheel-Version %q", version), trusted)
	}
	if maj > supportedWheelMajor {
		return false, in.bad(name, fmt.Sprintf("declares Wheel-Version %s, but harden implements wheel format %d.%d", version, supportedWheelMajor, supportedWheelMinor),
			"Lock a wheel built in format 1.x (an older build of this release) or upgrade harden.")
	}
	if maj == supportedWheelMajor && min > supportedWheelMinor {
		in.res.Warnings = append(in.res.Warnings, fmt.Sprintf("wheel %s declares Wheel-Version %s, newer than the %d.%d harden implements; installed anyway as the spec allows", in.wheel, version, supportedWheelMajor, supportedWheelMinor))
	}
	// As pip: anything but "true" puts the root in platlib.
	return strings.EqualFold(purelib, "true"), nil
}

// schemeDir returns the validated scheme dir of a category.
func (in *installer) schemeDir(category string, purelib bool) (string, error) {
	s := in.opts.Scheme
	var dir, field string
	switch category {
	case "purelib":
		dir, field = s.Purelib, "Purelib"
		if !purelib {
			dir, field = s.Platlib, "Platlib"
		}
	case "platlib":
		dir, field = s.Platlib, "Platlib"
	case "scripts":
		dir, field = s.Scripts, "Scripts"
	case "data":
		dir, field = s.Data, "Data"
	case "headers":
		dir, field = s.Headers, "Headers"
	}
	if dir == "" || !path.IsAbs(dir) || path.Clean(dir) != dir || dir == "/" {
		return "", fmt.Errorf("wheel %s needs the %s scheme dir, but it is %q; it must be an absolute, clean path below /", in.wheel, field, dir)
	}
	return dir, nil
}

var dataCategories = map[string]bool{"purelib": true, "platlib": true, "scripts": true, "data": true, "headers": true}

// mapMembers decides where each archive member goes.
func (in *installer) mapMembers(members []*member, distInfo, root, distName string) ([]staged, error) {
	dataDir := strings.TrimSuffix(distInfo, ".dist-info") + ".data" // for messages
	var out []staged
	for _, m := range members {
		switch m.name {
		case distInfo + "/RECORD", distInfo + "/INSTALLER", distInfo + "/REQUESTED":
			continue // regenerated: they describe an installation, not the wheel
		}
		if isSignature(m.name, distInfo) {
			continue // signs the wheel's RECORD, which is replaced on install
		}
		s := staged{root: root, from: m.name, link: m.link, data: m.data, m: m, mode: 0o644, sha256: m.sha}
		if m.exec {
			s.mode = 0o755
		}
		top, rest, _ := strings.Cut(m.name, "/")
		switch {
		case strings.HasSuffix(top, ".data") && rest != "":
			if !in.namesThisDist(strings.TrimSuffix(top, ".data")) {
				return nil, in.bad(m.name, fmt.Sprintf("is in %q, but the only data directory this wheel may have is %q", top, dataDir), trusted)
			}
			cat, sub, _ := strings.Cut(rest, "/")
			if !dataCategories[cat] {
				return nil, in.bad(m.name, fmt.Sprintf("uses the unknown .data category %q (known: data, headers, platlib, purelib, scripts)", cat), "The wheel is malformed; rebuild it or use a wheel from a trusted source.")
			}
			if sub == "" {
				return nil, in.bad(m.name, "sits directly in "+top+"/"+cat+" instead of below it", trusted)
			}
			dir, err := in.schemeDir(cat, true)
			if err != nil {
				return nil, err
			}
			if cat == "headers" {
				dir = path.Join(dir, distName)
			}
			s.root, s.dest = dir, path.Join(dir, sub)
			if cat == "scripts" && !m.link {
				s.mode = 0o755
				if data, ok := rewriteShebang(m.data, in.opts.Interpreter); ok {
					if err := in.checkInterpreter(); err != nil {
						return nil, err
					}
					s.data, s.sha256 = data, nil
				}
			}
		default:
			s.dest = path.Join(root, m.name)
		}
		if !within(s.dest, s.root) {
			return nil, in.bad(m.name, "would be installed outside "+s.root, trusted)
		}
		out = append(out, s)
	}
	return out, nil
}

func within(p, dir string) bool { return strings.HasPrefix(p, dir+"/") }

func (in *installer) checkInterpreter() error {
	ip := in.opts.Interpreter
	if ip == "" || !path.IsAbs(ip) || strings.ContainsAny(ip, " \t\r\n\x00") {
		return fmt.Errorf("wheel %s has scripts, which need an absolute interpreter path without spaces for their shebang; got %q", in.wheel, ip)
	}
	return nil
}

// entryPointScripts generates launchers for console_scripts and gui_scripts.
func (in *installer) entryPointScripts(byName map[string]*member, distInfo string) ([]staged, error) {
	name := distInfo + "/entry_points.txt"
	m := byName[name]
	if m == nil {
		return nil, nil
	}
	if m.link {
		return nil, in.bad(name, "is a symlink", trusted)
	}
	eps, err := ParseEntryPoints(m.data)
	if err != nil {
		return nil, in.bad(name, err.Error(), trusted)
	}
	var out []staged
	owner := map[string]string{}
	for _, group := range []string{"console_scripts", "gui_scripts"} {
		names := make([]string, 0, len(eps[group]))
		for n := range eps[group] {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) == 0 {
			continue
		}
		dir, err := in.schemeDir("scripts", true)
		if err != nil {
			return nil, err
		}
		if err := in.checkInterpreter(); err != nil {
			return nil, err
		}
		for _, n := range names {
			v := eps[group][n]
			if !validScriptName(n) {
				return nil, in.bad(name, fmt.Sprintf("[%s] has an invalid script name %q (it must be a single file name)", group, n), trusted)
			}
			if prev, dup := owner[n]; dup {
				return nil, in.bad(name, fmt.Sprintf("defines script %q in both [%s] and [%s]", n, prev, group), "Fix the project's entry points.")
			}
			owner[n] = group
			ep, err := parseEntryPointValue(v)
			if err != nil {
				return nil, in.bad(name, fmt.Sprintf("[%s] %s: %v", group, n, err), "Fix the project's entry points.")
			}
			out = append(out, staged{dest: path.Join(dir, n), root: dir, from: name + " [" + group + "] " + n, mode: 0o755,
				data: wrapperScript(in.opts.Interpreter, group, n, ep)})
			in.res.ConsoleScripts = append(in.res.ConsoleScripts, n)
		}
	}
	return out, nil
}

// checkStage refuses duplicate destinations, paths already in the tree,
// writes through symlinks and symlinks that leave their scheme dir.
func (in *installer) checkStage(stage []staged) error {
	byDest := make(map[string]*staged, len(stage))
	for i := range stage {
		s := &stage[i]
		if prev, ok := byDest[s.dest]; ok {
			return in.bad(s.from, fmt.Sprintf("and %q would both be installed at %s", prev.from, s.dest), "The wheel is malformed. "+trusted)
		}
		byDest[s.dest] = s
	}
	if err := in.checkPlacement(stage, byDest); err != nil {
		return err
	}
	for i := range stage {
		s := &stage[i]
		if !s.link {
			continue
		}
		if err := in.checkLink(s, byDest); err != nil {
			return err
		}
	}
	return nil
}

// checkPlacement checks stage against itself (byDest) and the tree.
func (in *installer) checkPlacement(stage []staged, byDest map[string]*staged) error {
	dirOK := map[string]bool{}
	for i := range stage {
		s := &stage[i]
		if old, ok := in.tree.Get(s.dest); ok {
			what := "already a directory in the image"
			if old.Type != tar.TypeDir {
				what = "already installed"
				if owner := ownerOf(in.tree, s.dest); owner != "" {
					what += " by " + owner
				} else {
					what += " by an earlier step"
				}
			}
			return fmt.Errorf("wheel %s: %s (from %q) is %s; refusing to install two owners of one file. Drop one of the two distributions from the lock", in.wheel, s.dest, s.from, what)
		}
		for p := path.Dir(s.dest); p != "/" && !dirOK[p]; p = path.Dir(p) {
			if o, ok := byDest[p]; ok {
				return in.bad(s.from, fmt.Sprintf("would be written below %s, which %q installs as a file or symlink", p, o.from), trusted)
			}
			if old, ok := in.tree.Get(p); ok && old.Type != tar.TypeDir {
				return fmt.Errorf("wheel %s: %s (from %q) would be written below %s, which is already a file or symlink; refusing to install. Drop the conflicting distribution from the lock", in.wheel, s.dest, s.from, p)
			}
			dirOK[p] = true
		}
	}
	return nil
}

// checkLink resolves a symlink the way the kernel would, following links
// of this wheel and of the tree, and refuses it if any step leaves the
// scheme dir the link is installed under.
func (in *installer) checkLink(s *staged, byDest map[string]*staged) error {
	target := string(s.data)
	refuse := func(why string) error {
		return in.bad(s.from, fmt.Sprintf("is a symlink to %q, which %s", target, why), trusted)
	}
	if target == "" || strings.ContainsAny(target, "\x00\\") || !utf8.ValidString(target) {
		return refuse("is not a usable link target")
	}
	if path.IsAbs(target) {
		return refuse("is absolute; links must stay inside " + s.root)
	}
	linkOf := func(p string) (string, bool) {
		if o, ok := byDest[p]; ok {
			return string(o.data), o.link
		}
		if e, ok := in.tree.Get(p); ok && e.Type == tar.TypeSymlink {
			return e.Linkname, true
		}
		return "", false
	}
	rel := strings.TrimPrefix(path.Dir(s.dest), s.root)
	cur := strings.FieldsFunc(rel, func(r rune) bool { return r == '/' })
	pending := strings.Split(target, "/")
	for hops := 0; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return refuse("leaves " + s.root)
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		t, ok := linkOf(s.root + "/" + strings.Join(cur, "/"))
		if !ok {
			continue
		}
		if hops++; hops > 40 {
			return refuse("loops")
		}
		if path.IsAbs(t) {
			return refuse("passes through an absolute link")
		}
		cur = cur[:len(cur)-1]
		pending = append(strings.Split(t, "/"), pending...)
	}
	return nil
}

// ownerOf finds the dist-info whose RECORD lists p, for error messages.
func ownerOf(tree *layer.Tree, p string) string {
	owner := ""
	_ = tree.Walk(func(e *layer.Entry) error {
		if owner != "" || e.Type != tar.TypeReg || !strings.HasSuffix(e.Path, ".dist-info/RECORD") {
			return nil
		}
		entries, err := ParseRecord(e.Data)
		if err != nil {
			return nil
		}
		site := "/" + path.Dir(path.Dir(e.Path))
		for _, r := range entries {
			if path.Join(site, r.Path) == p {
				owner = path.Base(path.Dir(e.Path))
				return nil
			}
		}
		return nil
	})
	return owner
}

// recordFor writes the installed RECORD: paths relative to root (the
// directory holding the dist-info), "../" for other scheme dirs, sorted,
// sha256 and size for every entry, and RECORD itself as "path,,".
func recordFor(stage []staged, root, recPath string) []byte {
	type row struct{ p, h, n string }
	rows := make([]row, 0, len(stage)+1)
	for _, s := range stage {
		sum := s.sha256
		if sum == nil {
			d := sha256.Sum256(s.data)
			sum = d[:]
		}
		rows = append(rows, row{relPath(root, s.dest), "sha256=" + base64.RawURLEncoding.EncodeToString(sum), strconv.FormatInt(s.size(), 10)})
	}
	rows = append(rows, row{relPath(root, recPath), "", ""})
	sort.Slice(rows, func(i, j int) bool { return rows[i].p < rows[j].p })
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	for _, r := range rows {
		_ = w.Write([]string{r.p, r.h, r.n})
	}
	w.Flush()
	return b.Bytes()
}

// relPath is filepath.Rel for clean absolute slash paths.
func relPath(from, to string) string {
	f := strings.Split(strings.TrimPrefix(from, "/"), "/")
	t := strings.Split(strings.TrimPrefix(to, "/"), "/")
	i := 0
	for i < len(f) && i < len(t) && f[i] == t[i] {
		i++
	}
	parts := make([]string, 0, len(f)-i+len(t)-i)
	for range f[i:] {
		parts = append(parts, "..")
	}
	return strings.Join(append(parts, t[i:]...), "/")
}

// looseVersionEqual compares versions as they appear in filenames and
// metadata: case-insensitive, "-" and "_" equal, a leading "v" ignored.
func looseVersionEqual(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.ReplaceAll(s, "-", "_"))
		return strings.TrimPrefix(s, "v")
	}
	return norm(a) == norm(b)
}
