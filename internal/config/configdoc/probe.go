package configdoc

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/internal/config"
)

// probeStat counts, for one field, what the edits of the examples showed.
type probeStat struct {
	parents, present, deleteFails int
	emptyTried, emptyFails        int
	itemTried, itemFails          int
}

// probe finds what the loader requires by editing each valid example in
// dir (testdata/*.yaml that config.Parse accepts) and parsing it again:
// a field is required when every example that has its parent has it too
// and none parses without it; NotEmpty when writing it empty ("", [] or
// {}) always fails; ItemsNotEmpty when an empty list item always fails.
func probe(m *Model, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	stats := map[*Field]*probeStat{}
	m.Walk(func(f *Field) { stats[f] = &probeStat{} })
	examples := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if _, err := config.Parse(data, file); err != nil {
			continue // an example of a mistake
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		examples++
		p := &prober{doc: &doc, file: file, stats: stats}
		if err := p.visit(doc.Content[0], m.Fields); err != nil {
			return err
		}
	}
	if examples == 0 {
		return fmt.Errorf("no valid example in %s to learn the required fields from", dir)
	}
	m.Walk(func(f *Field) {
		s := stats[f]
		f.Required = s.parents > 0 && s.present == s.parents && s.deleteFails == s.present
		f.NotEmpty = s.emptyTried > 0 && s.emptyFails == s.emptyTried
		f.ItemsNotEmpty = s.itemTried > 0 && s.itemFails == s.itemTried
	})
	return nil
}

type prober struct {
	doc   *yaml.Node
	file  string
	stats map[*Field]*probeStat
}

// fails reports whether the document, as edited now, is refused.
func (p *prober) fails() (bool, error) {
	data, err := yaml.Marshal(p.doc)
	if err != nil {
		return false, fmt.Errorf("%s: re-encode an edited copy: %w", p.file, err)
	}
	_, err = config.Parse(data, p.file)
	return err != nil, nil
}

func (p *prober) visit(n *yaml.Node, fields []*Field) error {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == "<<" || n.Content[i+1].Kind == yaml.AliasNode {
			return nil // shared through anchors: an edit here is not one field's
		}
	}
	for _, f := range fields {
		p.stats[f].parents++
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f := byKey(fields, k.Value)
		if f == nil || (v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null") {
			continue
		}
		s := p.stats[f]
		s.present++

		saved := n.Content
		n.Content = append(append([]*yaml.Node{}, saved[:i]...), saved[i+2:]...)
		failed, err := p.fails()
		n.Content = saved
		if err != nil {
			return err
		}
		if failed {
			s.deleteFails++
		}

		if e := emptyOf(f, v); e != nil {
			n.Content[i+1] = e
			failed, err := p.fails()
			n.Content[i+1] = v
			if err != nil {
				return err
			}
			s.emptyTried++
			if failed {
				s.emptyFails++
			}
		}
		if v.Kind == yaml.SequenceNode && isList(f.Type) && listElem(f.Type).Kind() == reflect.String {
			for j, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					continue
				}
				v.Content[j] = emptyString()
				failed, err := p.fails()
				v.Content[j] = item
				if err != nil {
					return err
				}
				s.itemTried++
				if failed {
					s.itemFails++
				}
			}
		}

		if f.Fields != nil {
			switch v.Kind {
			case yaml.MappingNode:
				if !isMap(f.Type) {
					if err := p.visit(v, f.Fields); err != nil {
						return err
					}
					break
				}
				for j := 1; j < len(v.Content); j += 2 {
					if err := p.visit(v.Content[j], f.Fields); err != nil {
						return err
					}
				}
			case yaml.SequenceNode:
				for _, item := range v.Content {
					if err := p.visit(item, f.Fields); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func byKey(fields []*Field, key string) *Field {
	for _, f := range fields {
		if f.Key == key {
			return f
		}
	}
	return nil
}

func listElem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Elem()
}

func emptyString() *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "", Style: yaml.DoubleQuotedStyle}
}

// emptyOf is the empty value of f's kind, or nil where "empty" means
// nothing (numbers, custom scalars, maps).
func emptyOf(f *Field, v *yaml.Node) *yaml.Node {
	t := f.Type
	for t.Kind() == reflect.Pointer && !isCustomScalar(t) {
		t = t.Elem()
	}
	switch {
	case isCustomScalar(t):
		return nil
	case t.Kind() == reflect.String && v.Kind == yaml.ScalarNode:
		return emptyString()
	case t.Kind() == reflect.Slice && v.Kind == yaml.SequenceNode:
		return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	case t.Kind() == reflect.Struct && v.Kind == yaml.MappingNode:
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
	}
	return nil
}
