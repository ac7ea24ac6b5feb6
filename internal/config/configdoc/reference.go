package configdoc

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
)

// Reference renders the model as Markdown: one table per mapping.
func Reference(m *Model) []byte {
	var b bytes.Buffer
	b.WriteString("# harden.yaml reference\n\n")
	b.WriteString("<!-- Generated from internal/config by go generate ./internal/config; do not edit. -->\n\n")
	b.WriteString(escape(m.Doc) + " [config.md](config.md) says where harden looks for the file and how `harden init` starts one; " +
		"[harden.schema.json](harden.schema.json) is this reference as a JSON Schema, for editors.\n\n")
	b.WriteString("The loader is strict: an unknown field, a duplicate key or a value of the wrong kind is an error that names " +
		"the file, the line and the field. A field written with no value (`key:` or `key: null`) counts as left out. " +
		"Relative paths resolve against the directory of harden.yaml.\n\n")
	b.WriteString("## Top level\n\n")
	table(&b, m.Fields)
	m.Walk(func(f *Field) {
		if f.Fields == nil {
			return
		}
		fmt.Fprintf(&b, "\n## `%s`\n\n", section(f))
		if f.StructDoc != "" {
			b.WriteString(escape(f.StructDoc) + "\n\n")
		}
		table(&b, f.Fields)
	})
	return b.Bytes()
}

// section is the heading of a field's mapping: its path, with [] for the
// items of a list.
func section(f *Field) string {
	if isList(f.Type) {
		return f.Path + "[]"
	}
	if isMap(f.Type) {
		return f.Path + mapEntry
	}
	return f.Path
}

// anchor is GitHub's id for a heading.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func table(b *bytes.Buffer, fields []*Field) {
	b.WriteString("| field | type | required | default | description |\n|---|---|---|---|---|\n")
	for _, f := range fields {
		name := "`" + f.Path + "`"
		if f.Fields != nil {
			name = fmt.Sprintf("[`%s`](#%s)", f.Path, anchor(section(f)))
		}
		req := ""
		if f.Required {
			req = "yes"
		}
		def := ""
		if f.Default != "" {
			def = code(f.Default)
		}
		desc := escape(sentence(f.Doc))
		if c := constraints(f); c != "" {
			desc = strings.TrimSpace(desc + " " + c)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", name, typeName(f.Type), req, def, desc)
	}
}

// constraints says in words what the schema adds to the type.
func constraints(f *Field) string {
	var out []string
	say := func(r obj, prefix string) {
		for _, e := range r {
			switch e.k {
			case "enum":
				var vals []string
				for _, v := range e.v.([]string) {
					vals = append(vals, code(v))
				}
				out = append(out, prefix+"one of "+strings.Join(vals, ", ")+".")
			case "pattern":
				out = append(out, prefix+"matches "+code(e.v.(string))+".")
			case "minimum":
				out = append(out, fmt.Sprintf("At least %v.", e.v))
			case "maximum":
				out = append(out, fmt.Sprintf("At most %v.", e.v))
			case "maxLength":
				out = append(out, fmt.Sprintf("At most %v characters.", e.v))
			case "uniqueItems":
				out = append(out, "No duplicates.")
			case "not":
				for _, n := range e.v.(obj) {
					if n.k == "const" {
						out = append(out, fmt.Sprintf("Not %s.", code(fmt.Sprint(n.v))))
					}
				}
			}
		}
	}
	say(rules[f.Path], "Value: ")
	say(rules[f.Path+"[]"], "Each item: ")
	say(rules[f.Path+"{}"], "Each key: ")
	if f.NotEmpty {
		t := f.Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Slice:
			out = append(out, "When written, not empty.")
		case reflect.Struct:
			out = append(out, "When written, needs at least one field.")
		default:
			out = append(out, "When written, not empty.")
		}
	}
	if f.ItemsNotEmpty {
		out = append(out, "No empty items.")
	}
	return strings.Join(out, " ")
}

func code(s string) string {
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// escape makes comment text safe in a Markdown table cell.
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`).Replace(s)
}

// sentence ends s with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
}
