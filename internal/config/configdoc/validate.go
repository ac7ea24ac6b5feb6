package configdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Compile compiles a JSON Schema document such as docs/harden.schema.json.
func Compile(schema []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		return nil, err
	}
	return c.Compile(SchemaID)
}

// ValidateYAML checks one YAML document against a compiled schema, as an
// editor does: aliases and merge keys resolved, scalars typed as YAML
// resolves them.
func ValidateYAML(s *jsonschema.Schema, data []byte) error {
	inst, err := Instance(data)
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// Instance turns a YAML document into the JSON value a validator checks.
func Instance(data []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, errors.New("empty YAML document")
	}
	v, err := toJSON(doc.Content[0], 0)
	if err != nil {
		return nil, err
	}
	// Round-trip so numbers are what the validator reads from JSON.
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

func toJSON(n *yaml.Node, depth int) (any, error) {
	if depth > 100 {
		return nil, errors.New("YAML nested too deeply")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return toJSON(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range n.Content {
			v, err := toJSON(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				merges = append(merges, v)
				continue
			}
			val, err := toJSON(v, depth+1)
			if err != nil {
				return nil, err
			}
			out[k.Value] = val
		}
		// Merged keys fill in only what the mapping does not set.
		for _, m := range merges {
			if m.Kind == yaml.AliasNode {
				m = m.Alias
			}
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, src := range srcs {
				v, err := toJSON(src, depth+1)
				if err != nil {
					return nil, err
				}
				mm, ok := v.(map[string]any)
				if !ok {
					return nil, errors.New("a merge key (<<) needs a mapping")
				}
				for k, val := range mm {
					if _, set := out[k]; !set {
						out[k] = val
					}
				}
			}
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, err
			}
			return i, nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return strconv.FormatFloat(f, 'g', -1, 64), nil
			}
			return f, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// dropProseDefaults keeps a default read from a comment only when it is
// a valid value of the field ("default: the console script …" is prose).
func dropProseDefaults(m *Model) error {
	var err error
	m.Walk(func(f *Field) {
		if !f.defaultFromComment || err != nil {
			return
		}
		var ts obj
		if ts, err = fieldSchema(f); err != nil {
			return
		}
		var defs obj
		for _, t := range sortedScalarTypes() {
			defs = append(defs, kv{scalarDefs[t].name, scalarDefs[t].def})
		}
		doc := append(obj{{"$schema", "https://json-schema.org/draft/2020-12/schema"}}, ts...)
		doc = append(doc, kv{"$defs", defs})
		raw, jerr := json.Marshal(doc)
		if jerr != nil {
			err = jerr
			return
		}
		s, cerr := Compile(raw)
		if cerr != nil {
			err = fmt.Errorf("%s: %w", f.Path, cerr)
			return
		}
		if ValidateYAML(s, []byte(f.Default)) != nil {
			f.Default, f.defaultFromComment = "", false
		}
	})
	return err
}
