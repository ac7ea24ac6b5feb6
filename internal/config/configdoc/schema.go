package configdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/internal/config"
)

// SchemaID is the $id of the schema.
const SchemaID = "https://github.com/harden-dev/harden/blob/main/docs/harden.schema.json"

// kv and obj write JSON objects with their keys in a chosen order.
type kv struct {
	k string
	v any
}

type obj []kv

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(e.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.k, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// scalarDefs are the schemas of the types that decode themselves from
// one scalar, mirroring their UnmarshalYAML.
var scalarDefs = map[reflect.Type]struct {
	name string
	doc  string // for the reference's type column
	def  obj
}{
	reflect.TypeFor[config.Duration](): {"duration", "duration", obj{
		{"description", `A Go duration: numbers with units ns, us, ms, s, m or h, e.g. "30s", "2m" or "1h30m".`},
		{"type", "string"},
		{"pattern", `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`},
	}},
	reflect.TypeFor[config.PackageSet](): {"packageSet", "all or list of strings", obj{
		{"description", "The word all, or a list of package names."},
		{"anyOf", []obj{
			{{"const", "all"}},
			{{"type", "array"}, {"items", obj{{"type", []string{"string", "number", "boolean"}}}}},
		}},
	}},
	reflect.TypeFor[config.Size](): {"size", "size", obj{
		{"description", `Bytes, or a number with a binary unit, e.g. "64MiB" or "16GiB" ("64M" means the same).`},
		{"anyOf", []obj{
			{{"type", "integer"}, {"minimum", 0}},
			{{"type", "string"}, {"pattern", `^\s*[0-9]+(\.[0-9]+)* ?[kKmMgGtTpP]?[iI]?[bB]?\s*$`}},
		}},
	}},
}

// Schema renders the model as a JSON Schema (draft 2020-12).
func Schema(m *Model) ([]byte, error) {
	body, err := objectSchema(m.Fields, false)
	if err != nil {
		return nil, err
	}
	root := obj{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", SchemaID},
		{"title", "harden.yaml"},
		{"description", m.Doc + " Generated from internal/config by go generate ./internal/config; docs/config-reference.md describes every field."},
	}
	root = append(root, body...)
	var defs obj
	for _, t := range sortedScalarTypes() {
		d := scalarDefs[t]
		defs = append(defs, kv{d.name, d.def})
	}
	root = append(root, kv{"$defs", defs})
	raw, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func sortedScalarTypes() []reflect.Type {
	ts := slices.Collect(maps.Keys(scalarDefs))
	slices.SortFunc(ts, func(a, b reflect.Type) int { return strings.Compare(scalarDefs[a].name, scalarDefs[b].name) })
	return ts
}

// objectSchema is the schema of a struct: the loader refuses unknown
// fields, so additionalProperties is false.
func objectSchema(fields []*Field, notEmpty bool) (obj, error) {
	s := obj{{"type", "object"}, {"additionalProperties", false}}
	var req []string
	var props obj
	for _, f := range fields {
		if f.Required {
			req = append(req, f.Key)
		}
		fs, err := fieldSchema(f)
		if err != nil {
			return nil, err
		}
		props = append(props, kv{f.Key, fs})
	}
	if len(req) > 0 {
		s = append(s, kv{"required", req})
	}
	if notEmpty {
		s = append(s, kv{"minProperties", 1})
	}
	return append(s, kv{"properties", props}), nil
}

func fieldSchema(f *Field) (obj, error) {
	var s obj
	if f.Doc != "" {
		s = append(s, kv{"description", sentence(f.Doc)})
	}
	ts, err := typeSchema(f.Type, f, f.Path)
	if err != nil {
		return nil, err
	}
	s = append(s, ts...)
	s = append(s, rules[f.Path]...)
	if f.Default != "" && !f.Derived {
		var v any
		if err := yaml.Unmarshal([]byte(f.Default), &v); err != nil {
			return nil, fmt.Errorf("%s: default %q: %w", f.Path, f.Default, err)
		}
		s = append(s, kv{"default", v})
	}
	return s, nil
}

// typeSchema mirrors how the loader reads a value of type t at path.
func typeSchema(t reflect.Type, f *Field, path string) (obj, error) {
	if d, ok := scalarDefs[t]; ok {
		return obj{{"$ref", "#/$defs/" + d.name}}, nil
	}
	if isCustomScalar(t) {
		return nil, fmt.Errorf("%s: no schema for %s; add it to scalarDefs in internal/config/configdoc", path, t)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem(), f, path)
	case reflect.String:
		// Any scalar: the loader keeps a number or boolean's text.
		s := obj{{"type", []string{"string", "number", "boolean"}}}
		if f != nil && f.NotEmpty {
			s = append(s, kv{"minLength", 1})
		}
		return s, nil
	case reflect.Bool:
		return obj{{"type", "boolean"}}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{{"type", "integer"}}, nil
	case reflect.Slice:
		var items obj
		var err error
		if f != nil && f.Fields != nil {
			items, err = objectSchema(f.Fields, false)
		} else {
			items, err = typeSchema(t.Elem(), nil, path+"[]")
		}
		if err != nil {
			return nil, err
		}
		items = append(items, rules[path+"[]"]...)
		if f != nil && f.ItemsNotEmpty {
			items = append(items, kv{"minLength", 1})
		}
		s := obj{{"type", "array"}, {"items", items}}
		if f != nil && f.NotEmpty {
			s = append(s, kv{"minItems", 1})
		}
		return s, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map keys of %s are not strings", path, t)
		}
		var vals obj
		var err error
		if f != nil && f.Fields != nil {
			vals, err = objectSchema(f.Fields, false)
		} else {
			vals, err = typeSchema(t.Elem(), nil, path+"{}")
		}
		if err != nil {
			return nil, err
		}
		s := obj{{"type", "object"}, {"additionalProperties", vals}}
		if r := rules[path+"{}"]; r != nil {
			s = append(s, kv{"propertyNames", r})
		}
		return s, nil
	case reflect.Struct:
		if f == nil {
			return nil, fmt.Errorf("%s: a struct inside a map is not supported", path)
		}
		return objectSchema(f.Fields, f.NotEmpty)
	}
	return nil, fmt.Errorf("%s: no schema for kind %s; extend typeSchema in internal/config/configdoc", path, t.Kind())
}

// typeName is a field's type for the reference.
func typeName(t reflect.Type) string {
	if d, ok := scalarDefs[t]; ok {
		return d.doc
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "list of " + plural(typeName(t.Elem()))
	case reflect.Map:
		return "map of " + plural(typeName(t.Elem()))
	case reflect.Struct:
		return "mapping"
	}
	if strings.HasPrefix(t.Kind().String(), "int") || strings.HasPrefix(t.Kind().String(), "uint") {
		return "integer"
	}
	return t.Kind().String()
}

func plural(s string) string {
	if strings.HasPrefix(s, "list of") || strings.HasPrefix(s, "map of") {
		return s
	}
	return s + "s"
}
