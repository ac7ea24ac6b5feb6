// Package configdoc describes harden.yaml from the config package itself:
// its Go types (reflection), their doc comments (go/ast), the defaults
// ApplyDefaults fills in, and what the loader refuses, found by asking
// config.Parse. From that it writes docs/config-reference.md and the JSON
// Schema docs/harden.schema.json; go generate ./internal/config runs it.
package configdoc

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/internal/config"
)

// Field is one field of harden.yaml.
type Field struct {
	Key  string // YAML key
	Path string // YAML path: "smoke[].expect.exitCode"
	Type reflect.Type
	Doc  string // from the field's comments
	// Default is the value a left-out field takes, as written in YAML;
	// "" when there is none.
	Default string
	// Derived: the default follows another field (shown with <name>).
	Derived            bool
	defaultFromComment bool // checked against the field's schema
	Required           bool
	// NotEmpty: the loader refuses "" (strings), [] (lists) or {}
	// (mappings) when the field is written.
	NotEmpty bool
	// ItemsNotEmpty: the loader refuses "" as an item of this list.
	ItemsNotEmpty bool
	Fields        []*Field // of the struct this field holds, if any
	StructDoc     string   // doc comment of that struct's type
}

// Model is the whole of harden.yaml.
type Model struct {
	Doc    string // what harden.yaml is
	Fields []*Field
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// Load builds the model from the config package's source in dir (for the
// comments) and valid example documents in dir/testdata (for what the
// loader requires).
func Load(dir string) (*Model, error) {
	docs, err := comments(dir)
	if err != nil {
		return nil, err
	}
	root := reflect.TypeFor[config.Config]()
	m := &Model{Doc: "harden.yaml defines one hardened image: what to build it from, how to run it, how to test, sign and scan it."}
	if m.Fields, err = walk(root, "", docs); err != nil {
		return nil, err
	}
	if err := applyDefaults(m); err != nil {
		return nil, err
	}
	if err := probe(m, filepath.Join(dir, "testdata")); err != nil {
		return nil, err
	}
	if err := dropProseDefaults(m); err != nil {
		return nil, err
	}
	if err := checkRules(m, rules); err != nil {
		return nil, err
	}
	return m, nil
}

// Walk calls fn for every field, parents before their fields.
func (m *Model) Walk(fn func(*Field)) {
	var rec func([]*Field)
	rec = func(fs []*Field) {
		for _, f := range fs {
			fn(f)
			rec(f.Fields)
		}
	}
	rec(m.Fields)
}

// Lookup returns the field at a YAML path such as "smoke[].timeout".
func (m *Model) Lookup(path string) *Field {
	var found *Field
	m.Walk(func(f *Field) {
		if f.Path == path {
			found = f
		}
	})
	return found
}

type typeDoc struct {
	doc    string
	fields map[string]string // Go field name → comments
}

// comments reads the doc comments of every struct type declared in the
// non-test Go files of dir.
func comments(dir string) (map[string]typeDoc, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read config package: %w", err)
	}
	out := map[string]typeDoc{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				td := typeDoc{doc: text(ts.Doc), fields: map[string]string{}}
				if td.doc == "" && len(gd.Specs) == 1 {
					td.doc = text(gd.Doc)
				}
				if st, ok := ts.Type.(*ast.StructType); ok {
					for _, fl := range st.Fields.List {
						c := joinText(text(fl.Doc), lineComment(fl.Comment))
						for _, nm := range fl.Names {
							td.fields[nm.Name] = c
						}
					}
				}
				out[ts.Name.Name] = td
			}
		}
	}
	return out, nil
}

func text(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}

// lineComment is a trailing comment; one that starts with a quote is an
// example value.
func lineComment(g *ast.CommentGroup) string {
	t := text(g)
	if strings.HasPrefix(t, `"`) {
		return "Example: " + t
	}
	return t
}

func joinText(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	if !strings.HasSuffix(a, ".") {
		a += "."
	}
	return a + " " + b
}

// yamlKey mirrors the loader: the yaml tag's name, or the lowercased Go
// name; "" for fields the loader does not read.
func yamlKey(f reflect.StructField) string {
	tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if tag == "-" || !f.IsExported() {
		return ""
	}
	if tag == "" {
		return strings.ToLower(f.Name)
	}
	return tag
}

// structOf returns the struct type a field holds directly, through a
// pointer, as list items or as map values; nil for scalars and custom
// scalars.
func structOf(t reflect.Type) reflect.Type {
	for {
		if isCustomScalar(t) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			return t
		default:
			return nil
		}
	}
}

// isCustomScalar: the type decodes itself from one YAML scalar
// (config.Duration, config.Size).
func isCustomScalar(t reflect.Type) bool {
	return t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType)
}

func walk(t reflect.Type, prefix string, docs map[string]typeDoc) ([]*Field, error) {
	var out []*Field
	for i := range t.NumField() {
		sf := t.Field(i)
		key := yamlKey(sf)
		if key == "" {
			continue
		}
		if sf.Anonymous {
			return nil, fmt.Errorf("%s.%s: embedded fields are not supported", t.Name(), sf.Name)
		}
		f := &Field{Key: key, Path: join(prefix, key), Type: sf.Type, Doc: yamlNames(docs[t.Name()].fields[sf.Name], t)}
		if st := structOf(sf.Type); st != nil {
			f.StructDoc = docs[st.Name()].doc
			p := f.Path
			if isList(sf.Type) {
				p += "[]"
			} else if isMap(sf.Type) {
				p += mapEntry
			}
			var err error
			if f.Fields, err = walk(st, p, docs); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// yamlNames writes the fields of t that doc names by their Go names
// ("FailOn ... unless IncludeUnfixed") by their YAML keys, as users see
// them.
func yamlNames(doc string, t reflect.Type) string {
	for i := range t.NumField() {
		sf := t.Field(i)
		if k := yamlKey(sf); k != "" && k != sf.Name {
			doc = regexp.MustCompile(`\b`+sf.Name+`\b`).ReplaceAllString(doc, k)
		}
	}
	return doc
}

// mapEntry stands for a key in the paths of the fields of map values:
// "upstream.publishers.<name>.workflow".
const mapEntry = ".<name>"

func isMap(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Map
}

func isList(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Slice
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// errorList flattens errors.Join trees.
func errorList(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, errorList(e)...)
		}
		return out
	}
	return []error{err}
}

// firstConfigError is for messages: the first *config.Error in err.
func firstConfigError(err error) string {
	for _, e := range errorList(err) {
		var ce *config.Error
		if errors.As(e, &ce) {
			return ce.Error()
		}
	}
	return err.Error()
}

// Generate returns docs/config-reference.md and docs/harden.schema.json
// for the config package in dir.
func Generate(dir string) (reference, schema []byte, err error) {
	m, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	schema, err = Schema(m)
	if err != nil {
		return nil, nil, err
	}
	return Reference(m), schema, nil
}

// Output files, relative to the repository root.
const (
	ReferenceFile = "docs/config-reference.md"
	SchemaFile    = "docs/harden.schema.json"
)
