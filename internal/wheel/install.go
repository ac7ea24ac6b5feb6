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
	"hash"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// The wheel format this installer implements (1.0), and a bound on what
// one wheel may expand to in memory.
const (
	supportedWheelMajor = 1
	supportedWheelMinor = 0
	maxUncompressed     = 4 << 30
)

const trusted = "Use a wheel from a trusted source."

// member is one file or symlink of the archive, read once.
type member struct {
	name string
	f    *zip.File
	link bool
	exec bool
	data []byte
	sha  []byte // sha256 of data
}

// staged is one entry about to be written.
type staged struct {
	dest   string // absolute path in the image
	root   string // scheme dir it must stay in
	from   string // archive member or "(generated)"
	link   bool
	mode   int64
	data   []byte
	sha256 []byte // of data, when already known
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
// wheel 1.0 spec. It validates everything before it writes anything, so on
// error the tree is unchanged. It never writes outside the scheme dirs and
// writes no .pyc files (there is no interpreter at build time).
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
	if err := in.readAll(members); err != nil {
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
	stage[last].data = recordFor(stage[:last], root, recPath)
	for i := range stage {
		s := &stage[i]
		var err error
		if s.link {
			err = in.tree.AddSymlink(s.dest, string(s.data))
		} else {
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

// readAll decompresses every member exactly once, on all CPUs, and
// hashes it with sha256 on the way. Errors are reported for the first
// failing member in archive order, so messages do not depend on timing.
func (in *installer) readAll(members []*member) error {
	var declared uint64
	for _, m := range members {
		declared += m.f.UncompressedSize64
		if declared > maxUncompressed || m.f.UncompressedSize64 > maxUncompressed {
			return in.bad(m.name, "expands the wheel beyond 4 GiB", trusted)
		}
	}
	errs := make([]error, len(members))
	workers := min(runtime.GOMAXPROCS(0), 8, len(members))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(members) {
					return
				}
				m := members[i]
				data, err := readMember(m.f)
				if err != nil {
					errs[i] = in.bad(m.name, "cannot be decompressed: "+err.Error(), "Re-download the wheel.")
					continue
				}
				sum := sha256.Sum256(data)
				m.data, m.sha = data, sum[:]
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readMember reads one member. The zip reader enforces the declared size
// and checks the CRC at EOF, so the buffer is sized once when the
// declared size is plausible for the compressed size (deflate cannot
// exceed about 1032:1).
func readMember(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	n := f.UncompressedSize64
	if n > 64<<20 || n > f.CompressedSize64*1100+64<<10 {
		return io.ReadAll(rc)
	}
	buf := make([]byte, n)
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

// checkHash verifies data against a RECORD entry; sha is data's sha256,
// computed already.
func checkHash(e RecordEntry, data, sha []byte) error {
	if e.Hash == "" {
		return errors.New("has no hash in RECORD")
	}
	algo, want, _ := strings.Cut(e.Hash, "=")
	var h hash.Hash
	switch strings.ToLower(algo) {
	case "sha256":
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	case "md5", "sha1", "sha224":
		return fmt.Errorf("is recorded with the weak hash %s; only sha256, sha384 and sha512 are accepted", algo)
	default:
		return fmt.Errorf("is recorded with the unsupported hash %q", algo)
	}
	got := sha
	if h != nil {
		h.Write(data)
		got = h.Sum(nil)
	}
	wantSum, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(want, "="))
	if err != nil || len(wantSum) != len(got) {
		return fmt.Errorf("has a malformed %s digest in RECORD", algo)
	}
	if !bytes.Equal(got, wantSum) {
		return fmt.Errorf("%s mismatch: RECORD says %s, content is %s=%s", algo, e.Hash, algo, base64.RawURLEncoding.EncodeToString(got))
	}
	if e.Size >= 0 && e.Size != int64(len(data)) {
		return fmt.Errorf("size mismatch: RECORD says %d bytes, content has %d", e.Size, len(data))
	}
	return nil
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
		s := staged{root: root, from: m.name, link: m.link, data: m.data, mode: 0o644, sha256: m.sha}
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
		rows = append(rows, row{relPath(root, s.dest), "sha256=" + base64.RawURLEncoding.EncodeToString(sum), strconv.Itoa(len(s.data))})
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
