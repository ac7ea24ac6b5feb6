package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	configType   = reflect.TypeFor[Config]()
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[Size]()
	// packageSetType is upstream.require: all, or a list of names.
	packageSetType = reflect.TypeFor[PackageSet]()
)

// maxNodes bounds the work of checking a document whose aliases expand
// into a huge tree.
const maxNodes = 100000

// checker walks the YAML tree against the Go types before decoding, so
// that unknown fields, duplicate keys and wrong kinds get messages with
// the file, line and field, and so that defaults can tell an absent
// field from an explicit zero.
type checker struct {
	path    string
	errs    []error
	present map[string]bool // field paths with a non-null value, e.g. "user.uid"
	lines   map[string]int  // line of each present field
	nodes   int
}

func newChecker(path string) *checker {
	return &checker{path: path, present: map[string]bool{}, lines: map[string]int{}}
}

func (c *checker) fail(n *yaml.Node, field, problem, fix string) {
	c.errs = append(c.errs, &Error{Path: c.path, Line: n.Line, Field: field, Problem: problem, Fix: fix})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "an unsupported YAML node"
}

// check validates node n against type t; field is its dotted path.
func (c *checker) check(n *yaml.Node, t reflect.Type, field string) {
	c.nodes++
	if c.nodes > maxNodes {
		if c.nodes == maxNodes+1 {
			c.fail(n, field, "the document is too large (aliases expand past 100000 nodes)", "write the values out without nested aliases")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if isNull(n) {
		return // same as absent
	}
	c.present[field] = true
	c.lines[field] = n.Line

	switch {
	case t == durationType:
		if _, err := parseDuration(n); err != nil {
			c.fail(n, field, err.Error(), `write it with a unit, e.g. "30s" or "2m"`)
		}
	case t == sizeType:
		if _, err := parseSize(n); err != nil {
			c.fail(n, field, err.Error(), `write bytes or a binary unit, e.g. "64MiB" or "16GiB"`)
		}
	case t == packageSetType:
		if _, err := parsePackageSet(n); err != nil {
			c.fail(n, field, err.Error(), "write all, or a list of package names such as [requests, urllib3]")
		}
	case t.Kind() == reflect.Pointer:
		c.check(n, t.Elem(), field)
	case t.Kind() == reflect.Struct:
		c.checkStruct(n, t, field)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.fail(n, field, fmt.Sprintf("expected a list, got %s", kindName(n)), fmt.Sprintf("write a list, e.g. %s: [a, b]", lastName(field)))
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", field, i))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.fail(n, field, fmt.Sprintf("expected a mapping, got %s", kindName(n)), fmt.Sprintf("write key: value pairs under %s:", lastName(field)))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.fail(k, field, "a key must be a plain string", "quote the key")
				continue
			}
			if first, dup := seen[k.Value]; dup {
				c.fail(k, field, fmt.Sprintf("duplicate key %q (first at line %d)", k.Value, first), "keep one of them")
				continue
			}
			seen[k.Value] = k.Line
			c.check(v, t.Elem(), field+"."+k.Value)
		}
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.fail(n, field, fmt.Sprintf("expected a string, got %s", kindName(n)), "write a single value (quote it if it contains ': ' or starts with a special character)")
		}
	case t.Kind() == reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			c.fail(n, field, fmt.Sprintf("expected an integer, got %s", kindName(n)), "write a whole number without quotes, e.g. 10001")
		}
	}
}

func (c *checker) checkStruct(n *yaml.Node, t reflect.Type, field string) {
	where := "at the top level"
	if field != "" {
		where = "in " + field
	}
	if n.Kind != yaml.MappingNode {
		c.fail(n, field, fmt.Sprintf("expected a mapping of fields, got %s", kindName(n)), "valid fields "+where+" are "+strings.Join(fieldNames(t), ", "))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.fail(k, field, "a field name must be a plain string", "valid fields "+where+" are "+strings.Join(fieldNames(t), ", "))
			continue
		}
		if k.Value == "<<" { // merge key: its mapping(s) hold fields of t
			c.nodes++
			mv := v
			if mv.Kind == yaml.AliasNode && mv.Alias != nil {
				mv = mv.Alias
			}
			if mv.Kind == yaml.SequenceNode {
				for _, m := range mv.Content {
					c.check(m, t, field)
				}
			} else {
				c.check(mv, t, field)
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.fail(k, join(field, k.Value), fmt.Sprintf("duplicate field (first at line %d)", first), "keep one of them")
			continue
		}
		seen[k.Value] = k.Line
		sf, ok := fieldByTag(t, k.Value)
		if !ok {
			fix := "valid fields " + where + " are " + strings.Join(fieldNames(t), ", ")
			if s := suggest(k.Value, fieldNames(t)); s != "" {
				fix = fmt.Sprintf("did you mean %q? %s", s, fix)
			}
			c.fail(k, "", fmt.Sprintf("unknown field %q %s", k.Value, where), fix)
			continue
		}
		c.check(v, sf.Type, join(field, k.Value))
	}
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func lastName(field string) string {
	if i := strings.LastIndexAny(field, ".["); i >= 0 && field[i] == '.' {
		return field[i+1:]
	}
	return field
}

// yamlName is the field's YAML key, "" if it is not decoded.
func yamlName(f reflect.StructField) string {
	tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if tag == "-" || !f.IsExported() {
		return ""
	}
	if tag == "" {
		return strings.ToLower(f.Name)
	}
	return tag
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if n := yamlName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// suggest returns the candidate closest to key (case-insensitive edit
// distance with transpositions), or "" if none is close.
func suggest(key string, candidates []string) string {
	best, bestDist := "", 3
	k := strings.ToLower(key)
	for _, c := range candidates {
		d := editDistance(k, strings.ToLower(c))
		if d < bestDist && d < len(k) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
