package rebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type file struct {
	name, body string
	mode       int64
	mtime      int64
	link       string
}

func layerOf(t *testing.T, files ...file) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: time.Unix(f.mtime, 0), Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if f.link == "" {
			if _, err := tw.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDiffLayers(t *testing.T) {
	pub := layerOf(t,
		file{name: "same", body: "x", mode: 0o644},
		file{name: "content", body: "abc", mode: 0o644},
		file{name: "mode", body: "m", mode: 0o755},
		file{name: "mtime", body: "t", mode: 0o644, mtime: 1},
		file{name: "gone", body: "g", mode: 0o644},
		file{name: "link", link: "a", mode: 0o777},
	)
	reb := layerOf(t,
		file{name: "same", body: "x", mode: 0o644},
		file{name: "content", body: "abd", mode: 0o644},
		file{name: "mode", body: "m", mode: 0o644},
		file{name: "mtime", body: "t", mode: 0o644, mtime: 2},
		file{name: "new", body: "n", mode: 0o644},
		file{name: "link", link: "b", mode: 0o777},
	)
	files, total, err := diffLayers(context.Background(), pub, reb)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = strings.Join(f.Changed, ",")
	}
	want := map[string]string{
		"content": "content", "mode": "mode", "mtime": "mtime", "link": "link",
		"gone": "only in the published image", "new": "only in the rebuild",
	}
	if total != len(want) || len(got) != len(want) {
		t.Fatalf("total %d, files %v; want %v", total, got, want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
	if files[0].Path != "content" || files[0].Published.Size != 3 || files[0].Published.SHA256 == files[0].Rebuilt.SHA256 {
		t.Errorf("first diff %+v %+v %+v", files[0], files[0].Published, files[0].Rebuilt)
	}
}

func TestDiffLayersBounded(t *testing.T) {
	var a, b []file
	for i := 0; i < maxFiles+7; i++ {
		n := strings.Repeat("f", i+1)
		a = append(a, file{name: n, body: "1", mode: 0o644})
		b = append(b, file{name: n, body: "2", mode: 0o644})
	}
	files, total, err := diffLayers(context.Background(), layerOf(t, a...), layerOf(t, b...))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != maxFiles || total != maxFiles+7 {
		t.Errorf("kept %d of %d", len(files), total)
	}
}

// TestDiffImage covers the order of blame: a layer first, then the
// config, then the manifest.
func TestDiffImage(t *testing.T) {
	ctx := context.Background()
	l1, l2 := layerOf(t, file{name: "a", body: "1"}), layerOf(t, file{name: "a", body: "2"})
	img := func(layers []v1.Layer, user string) v1.Image {
		i, err := mutate.AppendLayers(empty.Image, layers...)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := i.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.User = user
		if i, err = mutate.ConfigFile(i, cf); err != nil {
			t.Fatal(err)
		}
		return i
	}
	d, err := diffImage(ctx, "linux/amd64", img([]v1.Layer{l1, l1}, "1"), img([]v1.Layer{l1, l2}, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != "layer" || d.Layer != 2 || d.Layers != 2 || d.FilesTotal != 1 || d.Files[0].Path != "a" {
		t.Errorf("layer: %+v", d)
	}
	d, err = diffImage(ctx, "linux/amd64", img([]v1.Layer{l1}, "1"), img([]v1.Layer{l1, l2}, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != "layers" || !strings.Contains(d.Summary(), "1 layers published, 2 rebuilt") {
		t.Errorf("layer count: %+v %s", d, d.Summary())
	}
	d, err = diffImage(ctx, "linux/amd64", img([]v1.Layer{l1}, "0"), img([]v1.Layer{l1}, "10001"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != "config" || len(d.Fields) != 1 || d.Fields[0].Path != "config.User" || d.Fields[0].Published != `"0"` {
		t.Errorf("config: %+v", d)
	}
	annotated := mutate.Annotations(img([]v1.Layer{l1}, "1"), map[string]string{"k": "v"}).(v1.Image)
	d, err = diffImage(ctx, "linux/amd64", annotated, img([]v1.Layer{l1}, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != "manifest" || len(d.Fields) != 1 || d.Fields[0].Path != "annotations.k" || d.Fields[0].Rebuilt != "" {
		t.Errorf("manifest: %+v", d)
	}
}
