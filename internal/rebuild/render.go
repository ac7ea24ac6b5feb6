package rebuild

import (
	"fmt"
	"io"
	"strings"
)

// Render writes the human report of a rebuild.
func Render(w io.Writer, res *Result) {
	fmt.Fprintf(w, "image      %s\n", res.Image)
	if res.Rebuilt == "" {
		for _, c := range res.Report.Checks {
			if c.Name == "rebuild" {
				fmt.Fprintf(w, "not rebuilt: %s\n", c.Reason)
			}
		}
		return
	}
	fmt.Fprintf(w, "published  %s\nrebuilt    %s\n", res.Digest, res.Rebuilt)
	for _, p := range res.Platforms {
		status := "same"
		if !p.Match {
			status = "DIFFERS (published " + orNone(p.Published) + ")"
		}
		fmt.Fprintf(w, "  %-14s %s  %s\n", p.Platform, p.Rebuilt, status)
	}
	if res.Match {
		fmt.Fprintln(w, "reproducible: the rebuild from the signed provenance has the published digest")
		return
	}
	d := res.Difference
	fmt.Fprintf(w, "NOT reproducible: %s\n", d.Summary())
	switch d.Kind {
	case "layer":
		fmt.Fprintf(w, "first differing layer: %s layer %d of %d\n  made by    %s\n  published  %s\n  rebuilt    %s\n", d.Platform, d.Layer, d.Layers, d.CreatedBy, d.Published, d.Rebuilt)
		fmt.Fprintf(w, "files that differ (%d):\n", d.FilesTotal)
		for _, f := range d.Files {
			fmt.Fprintf(w, "  %s  [%s]\n", f.Path, strings.Join(f.Changed, ", "))
			fmt.Fprintf(w, "    published  %s\n    rebuilt    %s\n", entryLine(f.Published), entryLine(f.Rebuilt))
		}
		if d.FilesTotal > len(d.Files) {
			fmt.Fprintf(w, "  … and %d more (-o json lists the first %d)\n", d.FilesTotal-len(d.Files), len(d.Files))
		}
	default:
		for _, f := range d.Fields {
			fmt.Fprintf(w, "  %s\n    published  %s\n    rebuilt    %s\n", f.Path, orNone(f.Published), orNone(f.Rebuilt))
		}
	}
}

func entryLine(e *Entry) string {
	if e == nil {
		return "(absent)"
	}
	s := fmt.Sprintf("%s size=%d mode=%s mtime=%s owner=%d:%d", e.Type, e.Size, e.Mode, e.ModTime, e.UID, e.GID)
	if e.Linkname != "" {
		s += " -> " + e.Linkname
	}
	if e.SHA256 != "" {
		s += " sha256=" + e.SHA256
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
