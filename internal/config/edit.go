package config

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// LineChange is one rewritten line of a file (1-based line number).
type LineChange struct {
	Line int    `json:"line"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// SetScalar replaces the value of the top-level mapping key in the YAML
// document data with value, editing only the bytes of that scalar: the
// comments, order and formatting of everything else stay as they are. The
// scalar keeps its quoting style. It refuses values it cannot edit on one
// line (block or multi-line scalars) rather than re-encoding the file.
func SetScalar(data []byte, key, value string) ([]byte, LineChange, error) {
	node, err := topLevelValue(data, key)
	if err != nil {
		return nil, LineChange{}, err
	}
	var quote string
	switch node.Style {
	case 0:
	case yaml.SingleQuotedStyle:
		quote = "'"
	case yaml.DoubleQuotedStyle:
		quote = `"`
	default:
		return nil, LineChange{}, fmt.Errorf("line %d: %s: is not a plain or quoted scalar; write it on one line as %s: <value>", node.Line, key, key)
	}
	start, end := lineSpan(data, node.Line)
	line := data[start:end]
	col := byteColumn(line, node.Column-1)
	old := quote + node.Value + quote
	if col < 0 || !bytes.HasPrefix(line[col:], []byte(old)) {
		return nil, LineChange{}, fmt.Errorf("line %d: %s: the value spans lines or uses escapes; write it on one line as %s: <value>", node.Line, key, key)
	}
	var out bytes.Buffer
	out.Write(data[:start+col])
	out.WriteString(quote + value + quote)
	out.Write(data[start+col+len(old):])

	// The edit must read back as exactly value, or the file is left alone.
	check, err := topLevelValue(out.Bytes(), key)
	if err != nil || check.Value != value || check.Line != node.Line {
		return nil, LineChange{}, fmt.Errorf("line %d: %s: %q cannot be written in place of %q", node.Line, key, value, node.Value)
	}
	s, e := lineSpan(out.Bytes(), node.Line)
	return out.Bytes(), LineChange{Line: node.Line, Old: trimCR(line), New: trimCR(out.Bytes()[s:e])}, nil
}

// topLevelValue finds the scalar value of key in the document's top-level
// mapping.
func topLevelValue(data []byte, key string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the top level is not a mapping")
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		v := m.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: %s: is not a scalar", v.Line, key)
		}
		return v, nil
	}
	return nil, fmt.Errorf("no top-level %s: field", key)
}

// lineSpan returns the byte offsets of 1-based line n, without its "\n".
func lineSpan(data []byte, n int) (start, end int) {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data[start:], '\n')
		if j < 0 {
			return len(data), len(data)
		}
		start += j + 1
	}
	end = len(data)
	if j := bytes.IndexByte(data[start:], '\n'); j >= 0 {
		end = start + j
	}
	return start, end
}

// byteColumn converts a 0-based character column into a byte offset.
func byteColumn(line []byte, chars int) int {
	off := 0
	for i := 0; i < chars; i++ {
		if off >= len(line) {
			return -1
		}
		_, n := utf8.DecodeRune(line[off:])
		off += n
	}
	return off
}

func trimCR(b []byte) string { return string(bytes.TrimSuffix(b, []byte("\r"))) }
