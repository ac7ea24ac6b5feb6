package rebuild_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/export"
	"github.com/harden-dev/harden/internal/rebuild"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/verify"
)

const signer = "release@example.com"

// world is one Sigstore stack and one fixture build; each case publishes
// its own copy (or variant) of the image to its own repository.
type world struct {
	st     *sigstoretest.Stack
	res    *buildtest.Result
	signer *sign.Signer
	n      int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("rebuild: builds the fixture image twice and signs with the local Sigstore stack; skipped in -short mode")
	}
	st := sigstoretest.Start(t)
	res := buildtest.Build(t, buildtest.Options{Registry: registrytest.StartReferrers(t)})
	s, err := attest.NewSigner(context.Background(), attest.SignerParams{IdentityToken: st.Issuer.Token(t, signer),
		TrustedRoot: st.TrustedRootPath, SigningConfig: st.SigningConfigPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return &world{st: st, res: res, signer: s}
}

// publish pushes idx to a fresh repository, signs it and every platform
// manifest, and attests harden's provenance for it. The provenance is
// the fixture build's, with its subjects renamed to idx's digests; edit
// may change it further before it is signed.
func (w *world) publish(t *testing.T, idx v1.ImageIndex, edit func(st map[string]any)) name.Digest {
	t.Helper()
	ctx := context.Background()
	w.n++
	rel, subs := w.res.Copy(t, idx, fmt.Sprintf("rebuild/case-%d", w.n))
	renamed := map[string]string{strings.TrimPrefix(w.res.Record.Digest, "sha256:"): strings.TrimPrefix(rel.Digest, "sha256:")}
	for i, pl := range rel.Platforms {
		renamed[strings.TrimPrefix(w.res.Record.Platforms[i].Digest, "sha256:")] = strings.TrimPrefix(pl.Digest, "sha256:")
	}
	p := attest.Params{Config: w.res.Config, HardenVersion: "test", Getenv: func(string) string { return "" }}
	built := *rel
	built.Digest = w.res.Record.Digest // statements come from the build record
	sts, err := attest.Statements(p, &attest.Facts{Record: w.res.Record, Release: &built}, []string{attest.TypeSLSA})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(sts[0].Payload, &m); err != nil {
		t.Fatal(err)
	}
	for _, sub := range m["subject"].([]any) {
		dg := sub.(map[string]any)["digest"].(map[string]any)
		if n, ok := renamed[dg["sha256"].(string)]; ok {
			dg["sha256"] = n
		}
	}
	if edit != nil {
		edit(m)
	}
	if sts[0].Payload, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	a := &attest.Attester{Signer: w.signer, Store: attach.New(w.res.Client), Storage: attach.Referrers}
	if _, err := a.Sign(ctx, subs); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Attest(ctx, sts); err != nil {
		t.Fatal(err)
	}
	return subs[0]
}

func (w *world) options(image string) rebuild.Options {
	return rebuild.Options{Verify: verify.Options{
		Image: image, Identity: verify.Identity{Subject: signer, Issuer: w.st.Issuer.URL()},
		Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath}, Registry: w.res.Client,
	}, CacheDir: ""}
}

func rebuildCheck(t *testing.T, res *rebuild.Result) verify.Check {
	t.Helper()
	for _, c := range res.Report.Checks {
		if c.Name == "rebuild" {
			return c
		}
	}
	t.Fatal("the report has no rebuild check")
	return verify.Check{}
}

func TestRebuild(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	good := w.publish(t, w.res.Index, nil)

	t.Run("matches", func(t *testing.T) {
		res, err := rebuild.Run(ctx, w.options(good.String()))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Match || res.Rebuilt != good.DigestStr() || res.Difference != nil {
			t.Fatalf("rebuilt %s, published %s, difference %+v", res.Rebuilt, good.DigestStr(), res.Difference)
		}
		for _, p := range res.Platforms {
			if !p.Match || p.Published != p.Rebuilt {
				t.Errorf("platform %+v", p)
			}
		}
		if c := rebuildCheck(t, res); !c.Passed {
			t.Errorf("rebuild check: %+v", c)
		}
		var out bytes.Buffer
		rebuild.Render(&out, res)
		t.Logf("report:\n%s", out.String())
		if !strings.Contains(out.String(), "reproducible: ") {
			t.Errorf("report:\n%s", out.String())
		}
	})

	t.Run("matches from an export", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "export")
		if _, err := export.Export(ctx, w.res.Client, good, dir); err != nil {
			t.Fatal(err)
		}
		o := w.options("")
		o.Verify.Layout = dir
		o.WheelDir = w.res.Fixture.WheelDir
		res, err := rebuild.Run(ctx, o)
		if err != nil || !res.Match {
			t.Fatalf("match=%v err=%v", res != nil && res.Match, err)
		}
		if res.Image != good.String() {
			t.Errorf("image %s, want the exported name %s", res.Image, good)
		}
	})

	t.Run("tampered layer re-signed by the same identity", func(t *testing.T) {
		const victim = "pgcli/__init__.py"
		bad := w.publish(t, tamper(t, w.res.Index, victim), nil)
		res, err := rebuild.Run(ctx, w.options(bad.String()))
		if errs.ExitCode(err) != errs.CodeCheckFailed || res == nil || res.Match {
			t.Fatalf("err = %v (exit %d), want a failed check", err, errs.ExitCode(err))
		}
		d := res.Difference
		if d == nil || d.Kind != "layer" || !strings.Contains(d.CreatedBy, "install") {
			t.Fatalf("difference %+v, want the wheel layer", d)
		}
		if d.FilesTotal != 1 || !strings.HasSuffix(d.Files[0].Path, "-packages/"+victim) {
			t.Fatalf("files %+v, want only %s", d.Files, victim)
		}
		f := d.Files[0]
		if strings.Join(f.Changed, ",") != "size,content" || f.Published.Size != f.Rebuilt.Size+int64(len(tamperLine)) {
			t.Errorf("file diff %+v / %+v / %+v", f.Changed, f.Published, f.Rebuilt)
		}
		if res.Rebuilt != good.DigestStr() {
			t.Errorf("rebuilt %s, want the honest digest %s", res.Rebuilt, good.DigestStr())
		}
		if c := rebuildCheck(t, res); c.Passed || !strings.Contains(c.Reason, victim) {
			t.Errorf("rebuild check %+v", c)
		}
		var out bytes.Buffer
		rebuild.Render(&out, res)
		t.Logf("report:\n%s", out.String())
		for _, want := range []string{"NOT reproducible", "first differing layer", victim, "sha256=" + f.Published.SHA256} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, out.String())
			}
		}
	})

	// The provenance claims a pgcli wheel other than the one in the image.
	// From the recorded URL the claimed file cannot be found (exit 3);
	// given a copy of the claimed wheel, the rebuild differs in exactly
	// the files that wheel changes.
	t.Run("provenance records a different wheel", func(t *testing.T) {
		dir := t.TempDir()
		pgcli := copyWheels(t, w.res.Fixture.WheelDir, dir, "pgcli")
		sum := rewriteWheel(t, filepath.Join(dir, pgcli), "pgcli/__init__.py", func(b []byte) []byte { return append(b, tamperLine...) })
		ref := w.publish(t, w.res.Index, func(st map[string]any) { setWheelDigest(t, st, pgcli, sum) })

		res, err := rebuild.Run(ctx, w.options(ref.String()))
		if errs.ExitCode(err) != errs.CodeUnreachable || !strings.Contains(err.Error(), pgcli) {
			t.Fatalf("recorded URL: err = %v (exit %d), want exit 3 naming %s", err, errs.ExitCode(err), pgcli)
		}
		if res.Rebuilt != "" {
			t.Errorf("rebuilt %s despite a missing input", res.Rebuilt)
		}

		o := w.options(ref.String())
		o.WheelDir = dir
		res, err = rebuild.Run(ctx, o)
		if errs.ExitCode(err) != errs.CodeCheckFailed || res.Difference == nil {
			t.Fatalf("err = %v (exit %d), want a mismatch", err, errs.ExitCode(err))
		}
		var out bytes.Buffer
		rebuild.Render(&out, res)
		t.Logf("report:\n%s", out.String())
		var paths []string
		for _, f := range res.Difference.Files {
			paths = append(paths, f.Path)
		}
		joined := strings.Join(paths, " ")
		if !strings.Contains(joined, "-packages/pgcli/__init__.py") || !strings.Contains(joined, ".dist-info/RECORD") || len(paths) != 2 {
			t.Errorf("differing files %v, want pgcli/__init__.py and its RECORD", paths)
		}
	})

	t.Run("missing wheel", func(t *testing.T) {
		dir := t.TempDir()
		copyWheels(t, w.res.Fixture.WheelDir, dir, "")
		var gone string
		for _, wh := range w.res.Record.Platforms[0].Wheels {
			if wh.Name != "pgcli" {
				gone = wh.Filename
				break
			}
		}
		if err := os.Remove(filepath.Join(dir, gone)); err != nil {
			t.Fatal(err)
		}
		o := w.options(good.String())
		o.WheelDir = dir
		res, err := rebuild.Run(ctx, o)
		if errs.ExitCode(err) != errs.CodeUnreachable || !strings.Contains(err.Error(), gone) || !strings.Contains(err.Error(), "1 of") {
			t.Fatalf("err = %v (exit %d), want exit 3 naming only %s", err, errs.ExitCode(err), gone)
		}
		if c := rebuildCheck(t, res); c.Passed {
			t.Errorf("rebuild check passed without an input")
		}
	})

	t.Run("wrong identity is not rebuilt", func(t *testing.T) {
		o := w.options(good.String())
		o.Verify.Identity.Subject = "mallory@example.com"
		res, err := rebuild.Run(ctx, o)
		if errs.ExitCode(err) != errs.CodeCheckFailed || !strings.Contains(err.Error(), "does not verify") || res.Rebuilt != "" {
			t.Fatalf("err = %v, rebuilt %q", err, res.Rebuilt)
		}
	})
}

const tamperLine = "\nimport os  # tampered\n"

// tamper returns idx with path (below site- or dist-packages) changed in the last
// layer of its first platform image, keeping every other byte.
func tamper(t *testing.T, idx v1.ImageIndex, path string) v1.ImageIndex {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	desc := im.Manifests[0]
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	last := layers[len(layers)-1]
	rc, err := last.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	tr, tw := tar.NewReader(rc), tar.NewWriter(&buf)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, "-packages/"+path) {
			data = append(data, tamperLine...)
			h.Size = int64(len(data))
			found = true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("no %s in the last layer", path)
	}
	mt, err := last.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	nl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, tarball.WithMediaType(mt))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.Addendum
	for _, l := range layers[:len(layers)-1] {
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	out, err := mutate.Append(empty.Image, append(adds, mutate.Addendum{Layer: nl})...)
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if cf.RootFS.DiffIDs[len(layers)-1], err = nl.DiffID(); err != nil {
		t.Fatal(err)
	}
	if out, err = mutate.ConfigFile(out, cf); err != nil {
		t.Fatal(err)
	}
	out = mutate.ConfigMediaType(mutate.MediaType(out, desc.MediaType), types.OCIConfigJSON)
	adds2 := []mutate.IndexAddendum{{Add: out, Descriptor: v1.Descriptor{Platform: desc.Platform}}}
	for _, m := range im.Manifests[1:] {
		other, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		adds2 = append(adds2, mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: m.Platform}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, im.MediaType), adds2...)
}

// copyWheels copies the wheels of src into dst (regular files, as a
// wheel dir needs) and returns the filename of the one whose name starts
// with prefix+"-", if prefix is set.
func copyWheels(t *testing.T, src, dst, prefix string) string {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var match string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if prefix != "" && strings.HasPrefix(e.Name(), prefix+"-") {
			match = e.Name()
		}
	}
	if prefix != "" && match == "" {
		t.Fatalf("no %s wheel in %s", prefix, src)
	}
	return match
}

// rewriteWheel changes one file of a wheel in place, keeping its RECORD
// consistent so that it installs, and returns the new file's sha256.
func rewriteWheel(t *testing.T, path, member string, edit func([]byte) []byte) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	var order []*zip.FileHeader
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = b
		h := f.FileHeader
		order = append(order, &h)
	}
	zr.Close()
	old, ok := files[member]
	if !ok {
		t.Fatalf("%s has no %s", path, member)
	}
	files[member] = edit(old)
	sum := sha256.Sum256(files[member])
	newLine := fmt.Sprintf("%s,sha256=%s,%d", member, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[member]))
	for n, b := range files {
		if strings.HasSuffix(n, ".dist-info/RECORD") {
			var lines []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, member+",") {
					l = newLine
				}
				lines = append(lines, l)
			}
			files[n] = []byte(strings.Join(lines, "\n"))
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, h := range order {
		h.CompressedSize64, h.UncompressedSize64, h.CRC32 = 0, 0, 0
		fw, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(files[h.Name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(buf.Bytes())
	return fmt.Sprintf("%x", s)
}

// setWheelDigest makes the provenance claim file has digest sum.
func setWheelDigest(t *testing.T, st map[string]any, file, sum string) {
	t.Helper()
	deps := st["predicate"].(map[string]any)["buildDefinition"].(map[string]any)["resolvedDependencies"].([]any)
	for _, d := range deps {
		dm := d.(map[string]any)
		if ann, ok := dm["annotations"].(map[string]any); ok && ann["filename"] == file {
			dm["digest"] = map[string]any{"sha256": sum}
			return
		}
	}
	t.Fatalf("the provenance has no %s", file)
}
