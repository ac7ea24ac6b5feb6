package rebuild

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/errs"
)

// maxFiles bounds the file differences kept for one layer.
const maxFiles = 50

// Difference is the first place the rebuild departs from the published
// image: a layer (with its files), the config, a manifest or the index.
type Difference struct {
	Platform string `json:"platform,omitempty"`
	// Kind is "layer", "layers" (count differs), "config", "manifest"
	// or "index".
	Kind string `json:"kind"`
	// Layer is the 1-based position of the differing layer; CreatedBy
	// is its history line, which names the step that made it.
	Layer     int    `json:"layer,omitempty"`
	Layers    int    `json:"layers,omitempty"` // layers in the image
	CreatedBy string `json:"createdBy,omitempty"`
	Published string `json:"published,omitempty"`
	Rebuilt   string `json:"rebuilt,omitempty"`
	// Files differ within the layer (at most maxFiles; FilesTotal counts
	// all). Fields differ within a JSON document (config, manifest).
	Files      []FileDiff  `json:"files,omitempty"`
	FilesTotal int         `json:"filesTotal,omitempty"`
	Fields     []FieldDiff `json:"fields,omitempty"`
}

// FileDiff is one path whose entry differs between the two tars. A nil
// side means the path is absent there.
type FileDiff struct {
	Path      string   `json:"path"`
	Changed   []string `json:"changed"` // field names that differ
	Published *Entry   `json:"published,omitempty"`
	Rebuilt   *Entry   `json:"rebuilt,omitempty"`
}

// Entry is what a tar header and content say about one path.
type Entry struct {
	Type     string `json:"type"` // file, dir, symlink, hardlink, other
	Size     int64  `json:"size"`
	Mode     string `json:"mode"` // octal permission and special bits
	ModTime  string `json:"mtime"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Linkname string `json:"linkname,omitempty"`
	SHA256   string `json:"sha256,omitempty"` // regular files
}

// FieldDiff is one JSON path whose value differs.
type FieldDiff struct {
	Path      string `json:"path"`
	Published string `json:"published"`
	Rebuilt   string `json:"rebuilt"`
}

// Summary is a one-line account of the difference.
func (d *Difference) Summary() string {
	switch d.Kind {
	case "layer":
		s := fmt.Sprintf("%s layer %d of %d (%s) differs", d.Platform, d.Layer, d.Layers, d.CreatedBy)
		if len(d.Files) > 0 {
			s += fmt.Sprintf(" in %d file(s), first %s (%s)", d.FilesTotal, d.Files[0].Path, strings.Join(d.Files[0].Changed, ", "))
		}
		return s
	case "layers":
		return fmt.Sprintf("%s has %s layers published, %s rebuilt", d.Platform, d.Published, d.Rebuilt)
	}
	s := d.Kind
	if d.Platform != "" {
		s = d.Platform + " " + s
	}
	if len(d.Fields) > 0 {
		s += " differs at " + d.Fields[0].Path
	}
	return s + " differs"
}

// compare fills in the platform comparison and, on a mismatch, the first
// difference; it returns an errs.Check error on a mismatch.
func (res *Result) compare(ctx context.Context, pub, reb v1.ImageIndex) error {
	pd, err := pub.Digest()
	if err != nil {
		return err
	}
	rd, err := reb.Digest()
	if err != nil {
		return err
	}
	res.Rebuilt = rd.String()
	pim, err := pub.IndexManifest()
	if err != nil {
		return fmt.Errorf("read published index: %w", err)
	}
	rim, err := reb.IndexManifest()
	if err != nil {
		return fmt.Errorf("read rebuilt index: %w", err)
	}
	pubBy := map[string]v1.Descriptor{}
	for _, m := range pim.Manifests {
		pubBy[platformOf(m)] = m
	}
	var firstBad *v1.Descriptor
	for i, m := range rim.Manifests {
		p := platformOf(m)
		pm, ok := pubBy[p]
		pl := Platform{Platform: p, Rebuilt: m.Digest.String(), Published: pm.Digest.String(), Match: ok && pm.Digest == m.Digest}
		if !ok {
			pl.Published = ""
		}
		res.Platforms = append(res.Platforms, pl)
		if !pl.Match && firstBad == nil {
			firstBad = &rim.Manifests[i]
		}
	}
	if pd == rd {
		res.Match = true
		return nil
	}
	switch {
	case firstBad != nil && pubBy[platformOf(*firstBad)].Digest.Hex != "":
		p := platformOf(*firstBad)
		pimg, err := pub.Image(pubBy[p].Digest)
		if err != nil {
			return fmt.Errorf("read published %s: %w", p, err)
		}
		rimg, err := reb.Image(firstBad.Digest)
		if err != nil {
			return fmt.Errorf("read rebuilt %s: %w", p, err)
		}
		if res.Difference, err = diffImage(ctx, p, pimg, rimg); err != nil {
			return err
		}
	default:
		fields, err := diffJSON(pim, rim)
		if err != nil {
			return err
		}
		res.Difference = &Difference{Kind: "index", Published: pd.String(), Rebuilt: rd.String(), Fields: fields}
	}
	return errs.Check(fmt.Errorf("not reproducible: %s was rebuilt from its provenance as %s; %s", res.Digest, res.Rebuilt, res.Difference.Summary()))
}

func platformOf(d v1.Descriptor) string {
	if d.Platform == nil {
		return ""
	}
	return d.Platform.String()
}

// diffImage finds the first differing layer, else the config, else the
// manifest.
func diffImage(ctx context.Context, platform string, pub, reb v1.Image) (*Difference, error) {
	pm, err := pub.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read published %s manifest: %w", platform, err)
	}
	rm, err := reb.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read rebuilt %s manifest: %w", platform, err)
	}
	history := layerHistory(reb)
	for i := 0; i < len(pm.Layers) && i < len(rm.Layers); i++ {
		if pm.Layers[i].Digest == rm.Layers[i].Digest {
			continue
		}
		d := &Difference{Platform: platform, Kind: "layer", Layer: i + 1, Layers: len(rm.Layers), Published: pm.Layers[i].Digest.String(), Rebuilt: rm.Layers[i].Digest.String()}
		if i < len(history) {
			d.CreatedBy = history[i]
		}
		pl, err := pub.LayerByDigest(pm.Layers[i].Digest)
		if err != nil {
			return nil, fmt.Errorf("read published layer %d: %w", i, err)
		}
		rl, err := reb.LayerByDigest(rm.Layers[i].Digest)
		if err != nil {
			return nil, fmt.Errorf("read rebuilt layer %d: %w", i, err)
		}
		if d.Files, d.FilesTotal, err = diffLayers(ctx, pl, rl); err != nil {
			return nil, err
		}
		return d, nil
	}
	if len(pm.Layers) != len(rm.Layers) {
		return &Difference{Platform: platform, Kind: "layers", Published: fmt.Sprint(len(pm.Layers)), Rebuilt: fmt.Sprint(len(rm.Layers))}, nil
	}
	if pm.Config.Digest != rm.Config.Digest {
		pc, err := pub.RawConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read published %s config: %w", platform, err)
		}
		rc, err := reb.RawConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read rebuilt %s config: %w", platform, err)
		}
		fields, err := diffRawJSON(pc, rc)
		if err != nil {
			return nil, err
		}
		return &Difference{Platform: platform, Kind: "config", Published: pm.Config.Digest.String(), Rebuilt: rm.Config.Digest.String(), Fields: fields}, nil
	}
	fields, err := diffJSON(pm, rm)
	if err != nil {
		return nil, err
	}
	return &Difference{Platform: platform, Kind: "manifest", Fields: fields}, nil
}

// layerHistory is the created_by of each non-empty history entry, which
// lines up with the layers.
func layerHistory(img v1.Image) []string {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range cf.History {
		if !h.EmptyLayer {
			out = append(out, h.CreatedBy)
		}
	}
	return out
}

// diffLayers reads both tars and lists the paths whose entries differ,
// sorted by path.
func diffLayers(ctx context.Context, pub, reb v1.Layer) ([]FileDiff, int, error) {
	pe, err := entries(ctx, pub)
	if err != nil {
		return nil, 0, fmt.Errorf("read published layer: %w", err)
	}
	re, err := entries(ctx, reb)
	if err != nil {
		return nil, 0, fmt.Errorf("read rebuilt layer: %w", err)
	}
	paths := map[string]bool{}
	for p := range pe {
		paths[p] = true
	}
	for p := range re {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var out []FileDiff
	total := 0
	for _, p := range sorted {
		a, b := pe[p], re[p]
		changed := entryChanges(a, b)
		if len(changed) == 0 {
			continue
		}
		total++
		if len(out) < maxFiles {
			out = append(out, FileDiff{Path: p, Changed: changed, Published: a, Rebuilt: b})
		}
	}
	return out, total, nil
}

func entryChanges(a, b *Entry) []string {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		return []string{"only in the rebuild"}
	case b == nil:
		return []string{"only in the published image"}
	}
	var c []string
	add := func(diff bool, field string) {
		if diff {
			c = append(c, field)
		}
	}
	add(a.Type != b.Type, "type")
	add(a.Size != b.Size, "size")
	add(a.Mode != b.Mode, "mode")
	add(a.ModTime != b.ModTime, "mtime")
	add(a.UID != b.UID || a.GID != b.GID, "owner")
	add(a.Linkname != b.Linkname, "link")
	add(a.SHA256 != b.SHA256, "content")
	return c
}

// entries reads a layer's tar into path → entry.
func entries(ctx context.Context, l v1.Layer) (map[string]*Entry, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]*Entry{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		e := &Entry{Size: h.Size, Mode: fmt.Sprintf("%04o", h.Mode&0o7777), ModTime: h.ModTime.UTC().Format(time.RFC3339), UID: h.Uid, GID: h.Gid, Linkname: h.Linkname}
		switch h.Typeflag {
		case tar.TypeReg:
			e.Type = "file"
			sum := sha256.New()
			if _, err := io.Copy(sum, tr); err != nil {
				return nil, fmt.Errorf("read %s: %w", h.Name, err)
			}
			e.SHA256 = hex.EncodeToString(sum.Sum(nil))
		case tar.TypeDir:
			e.Type = "dir"
		case tar.TypeSymlink:
			e.Type = "symlink"
		case tar.TypeLink:
			e.Type = "hardlink"
		default:
			e.Type = "other"
		}
		out[strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")] = e
	}
}

func diffJSON(a, b any) ([]FieldDiff, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return diffRawJSON(ja, jb)
}

// diffRawJSON lists the leaf paths whose values differ, sorted.
func diffRawJSON(a, b []byte) ([]FieldDiff, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return nil, fmt.Errorf("decode published JSON: %w", err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return nil, fmt.Errorf("decode rebuilt JSON: %w", err)
	}
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", va, fa)
	flatten("", vb, fb)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var out []FieldDiff
	for k := range keys {
		if fa[k] != fb[k] {
			out = append(out, FieldDiff{Path: k, Published: fa[k], Rebuilt: fb[k]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			flatten(prefix+"."+k, x, out)
		}
	case []any:
		for i, x := range t {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), x, out)
		}
	default:
		b, _ := json.Marshal(t)
		out[strings.TrimPrefix(prefix, ".")] = string(b)
	}
}
