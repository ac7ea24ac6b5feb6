package configdoc

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/config"
)

// nameHolder stands for the image's name in defaults derived from it.
const nameHolder = "<name>"

// applyDefaults sets Field.Default from what config.ApplyDefaults (and
// each Config method that returns a section with its defaults, such as
// BuildSettings) fills into an empty config, or else from a "default X"
// or "X (default)" in the field's comment.
func applyDefaults(m *Model) error {
	probe := func(name string) map[string]string {
		c := &config.Config{Name: name}
		seedLists(reflect.ValueOf(c).Elem())
		c.ApplyDefaults()
		sectionDefaults(c)
		out := map[string]string{}
		collect(reflect.ValueOf(c).Elem(), m.Fields, out)
		return out
	}
	a, b := probe(nameHolder), probe("x")
	var err error
	m.Walk(func(f *Field) {
		if f.Path == "name" || err != nil {
			return
		}
		if v, ok := a[f.Path]; ok {
			f.Default = v
			if b[f.Path] != v {
				f.Derived = true
			}
			return
		}
		f.Default = commentDefault(f.Doc)
		f.defaultFromComment = f.Default != ""
	})
	return err
}

// seedLists gives every list of structs one zero item, so that per-item
// defaults show.
func seedLists(v reflect.Value) {
	for i := range v.NumField() {
		fv := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch {
		case isCustomScalar(fv.Type()):
		case fv.Kind() == reflect.Struct:
			seedLists(fv)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
			s := reflect.MakeSlice(fv.Type(), 1, 1)
			seedLists(s.Index(0))
			fv.Set(s)
		}
	}
}

// sectionDefaults calls each method of *Config that takes nothing and
// returns the type of one of its fields (BuildSettings() Build) and stores
// the result in that field.
func sectionDefaults(c *config.Config) {
	pv := reflect.ValueOf(c)
	v := pv.Elem()
	for i := range pv.NumMethod() {
		mt := pv.Type().Method(i)
		if mt.Type.NumIn() != 1 || mt.Type.NumOut() != 1 {
			continue
		}
		for j := range v.NumField() {
			if v.Type().Field(j).IsExported() && v.Field(j).Type() == mt.Type.Out(0) && v.Field(j).Kind() == reflect.Struct {
				v.Field(j).Set(pv.Method(i).Call(nil)[0])
			}
		}
	}
}

// collect records the non-zero leaf values of v under each field's path.
func collect(v reflect.Value, fields []*Field, out map[string]string) {
	for _, f := range fields {
		fv := v.FieldByIndex(fieldIndex(v.Type(), f.Key))
		if f.Fields != nil {
			for fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					break
				}
				fv = fv.Elem()
			}
			switch fv.Kind() {
			case reflect.Struct:
				collect(fv, f.Fields, out)
			case reflect.Slice:
				if fv.Len() > 0 {
					collect(fv.Index(0), f.Fields, out)
				}
			}
			continue
		}
		if fv.IsZero() {
			continue
		}
		if s, ok := format(fv); ok {
			out[f.Path] = s
		}
	}
}

func fieldIndex(t reflect.Type, key string) []int {
	for i := range t.NumField() {
		if yamlKey(t.Field(i)) == key {
			return []int{i}
		}
	}
	panic("configdoc: no field " + key + " in " + t.Name())
}

// format writes a value as it would be written in harden.yaml.
func format(v reflect.Value) (string, bool) {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case config.Duration:
		return formatDuration(x.Duration), true
	case config.Size:
		return formatSize(int64(x)), true
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), true
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(v.Int(), 10), true
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), true
	case reflect.Slice:
		var items []string
		for i := range v.Len() {
			s, ok := format(v.Index(i))
			if !ok {
				return "", false
			}
			items = append(items, s)
		}
		return "[" + strings.Join(items, ", ") + "]", true
	}
	return "", false
}

func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= 10*time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return strconv.FormatInt(n, 10)
}

var (
	defaultAfter  = regexp.MustCompile(`(?i)\bdefault:?\s+([^\s,;()]+)`)
	defaultBefore = regexp.MustCompile(`([^\s,;()]+) \(default\)`)
)

// commentDefault finds a default the comment states ("default 120h",
// "both (default)"), for defaults applied outside ApplyDefaults.
func commentDefault(doc string) string {
	if m := defaultBefore.FindStringSubmatch(doc); m != nil {
		return m[1]
	}
	if m := defaultAfter.FindStringSubmatch(doc); m != nil {
		return strings.TrimSuffix(m[1], ".")
	}
	return ""
}
