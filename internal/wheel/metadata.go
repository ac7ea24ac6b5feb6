package wheel

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Metadata is the subset of core metadata harden needs.
type Metadata struct {
	Name, Version, RequiresPython string
	RequiresDist                  []string
	ProvidesExtra                 []string
}

// header is one field of an RFC 822 style header block.
type header struct{ key, value string }

// parseHeaders reads "Key: value" lines up to the first blank line. Lines
// starting with a space or tab continue the previous field; they are
// joined with a single space. Keys are returned as written.
func parseHeaders(b []byte) ([]header, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("not valid UTF-8")
	}
	var out []header
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break // the body starts here
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) == 0 {
				return nil, fmt.Errorf("line %d: continuation line before any field", n+1)
			}
			last := &out[len(out)-1]
			if t := strings.TrimSpace(line); t != "" {
				if last.value == "" {
					last.value = t
				} else {
					last.value += " " + t
				}
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			// Like Python's email parser: a line that is not a header ends
			// the headers, and the rest is body.
			break
		}
		out = append(out, header{k, strings.TrimSpace(v)})
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ParseMetadata parses a METADATA (or PKG-INFO) file: RFC 822 style
// headers, multi-valued fields, folded lines; the body is ignored. Name and
// Version are required.
func ParseMetadata(b []byte) (*Metadata, error) {
	hs, err := parseHeaders(b)
	if err != nil {
		return nil, fmt.Errorf("METADATA: %w", err)
	}
	m := &Metadata{}
	for _, h := range hs {
		switch strings.ToLower(h.key) {
		case "name":
			if m.Name != "" {
				return nil, errors.New("METADATA: Name given twice")
			}
			m.Name = h.value
		case "version":
			if m.Version != "" {
				return nil, errors.New("METADATA: Version given twice")
			}
			m.Version = h.value
		case "requires-python":
			m.RequiresPython = h.value
		case "requires-dist":
			if h.value != "" {
				m.RequiresDist = append(m.RequiresDist, h.value)
			}
		case "provides-extra":
			if h.value != "" {
				m.ProvidesExtra = append(m.ProvidesExtra, h.value)
			}
		}
	}
	if m.Name == "" {
		return nil, errors.New("METADATA: missing Name")
	}
	if !validProjectName(m.Name) {
		return nil, fmt.Errorf("METADATA: invalid Name %q", m.Name)
	}
	if m.Version == "" {
		return nil, errors.New("METADATA: missing Version")
	}
	if strings.ContainsAny(m.Version, " \t/\\\x00") {
		return nil, fmt.Errorf("METADATA: invalid Version %q", m.Version)
	}
	return m, nil
}

// validProjectName is the PEP 508 name rule.
func validProjectName(s string) bool { return validComponent(s, "._-") }

// ParseEntryPoints parses entry_points.txt into group → name → value
// ("module:attr [extras]", as written, trimmed). Comments start with '#'
// or ';'. A repeated section is merged; a repeated name within a group is
// an error, since two entry points cannot own one script.
func ParseEntryPoints(b []byte) (map[string]map[string]string, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("entry_points.txt: not valid UTF-8")
	}
	out := map[string]map[string]string{}
	var group map[string]string
	var gname string
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("entry_points.txt line %d: bad section header %q", n+1, truncate(line, 60))
			}
			gname = strings.TrimSpace(line[1 : len(line)-1])
			if gname == "" {
				return nil, fmt.Errorf("entry_points.txt line %d: empty section name", n+1)
			}
			if group = out[gname]; group == nil {
				group = map[string]string{}
				out[gname] = group
			}
			continue
		}
		if group == nil {
			return nil, fmt.Errorf("entry_points.txt line %d: entry %q outside any [section]", n+1, truncate(line, 60))
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("entry_points.txt line %d: expected \"name = value\", got %q", n+1, truncate(line, 60))
		}
		if _, dup := group[k]; dup {
			return nil, fmt.Errorf("entry_points.txt line %d: %q is defined twice in [%s]", n+1, k, gname)
		}
		group[k] = v
	}
	return out, nil
}

// RecordEntry is one row of a RECORD file. Hash is "algo=<urlsafe base64,
// no padding>" or "" and Size is -1 when the size field is empty.
type RecordEntry struct {
	Path, Hash string
	Size       int64
}

// ParseRecord parses a RECORD CSV file (path,hash,size rows). Blank lines
// are skipped.
func ParseRecord(b []byte) ([]RecordEntry, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var out []RecordEntry
	for {
		row, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("RECORD: %w", err)
		}
		line, _ := r.FieldPos(0)
		if len(row) != 3 {
			return nil, fmt.Errorf("RECORD line %d: expected 3 fields (path,hash,size), got %d", line, len(row))
		}
		e := RecordEntry{Path: row[0], Hash: row[1], Size: -1}
		if e.Path == "" {
			return nil, fmt.Errorf("RECORD line %d: empty path", line)
		}
		if e.Hash != "" {
			algo, digest, ok := strings.Cut(e.Hash, "=")
			if !ok || algo == "" || digest == "" {
				return nil, fmt.Errorf("RECORD line %d: hash %q is not algorithm=digest", line, truncate(e.Hash, 60))
			}
		}
		if row[2] != "" {
			n, err := strconv.ParseInt(row[2], 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("RECORD line %d: bad size %q", line, truncate(row[2], 30))
			}
			e.Size = n
		}
		out = append(out, e)
	}
}
