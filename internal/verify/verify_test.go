package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/harden-dev/harden/internal/attach"
	"github.com/harden-dev/harden/internal/attest"
	"github.com/harden-dev/harden/internal/buildtest"
	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/export"
	"github.com/harden-dev/harden/internal/registry/registrytest"
	"github.com/harden-dev/harden/internal/sign"
	"github.com/harden-dev/harden/internal/sigstoretest"
	"github.com/harden-dev/harden/internal/verify"
)

const email = "release@example.com"

// world is one Sigstore stack, one built fixture image and one signer,
// shared by the tamper cases; each case publishes its own copy of the
// image to its own repository.
type world struct {
	st     *sigstoretest.Stack
	res    *buildtest.Result
	signer *sign.Signer
	n      int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOn(t, registrytest.StartReferrers(t))
}

// newWorldOn is newWorld publishing to the registry at reg.
func newWorldOn(t *testing.T, reg string) *world {
	t.Helper()
	ctx := context.Background()
	st := sigstoretest.Start(t)
	res := buildtest.Build(t, buildtest.Options{Registry: reg})
	s, err := attest.NewSigner(ctx, attest.SignerParams{IdentityToken: st.Issuer.Token(t, email), TrustedRoot: st.TrustedRootPath,
		SigningConfig: st.SigningConfigPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return &world{st: st, res: res, signer: s}
}

// copyImage publishes idx (default: the fixture index) to a fresh
// repository and returns its release record and subjects.
func (w *world) copyImage(t *testing.T, idx v1.ImageIndex) (*dist.Release, []name.Digest) {
	t.Helper()
	w.n++
	return w.res.Copy(t, idx, fmt.Sprintf("tamper/case-%d", w.n))
}

func (w *world) attester(storage attach.Storage) *attest.Attester {
	return &attest.Attester{Signer: w.signer, Store: attach.New(w.res.Client), Storage: storage}
}

// statements makes harden's own statements for rel, then lets edit
// change any of them before they are signed.
func (w *world) statements(t *testing.T, rel *dist.Release, subs []name.Digest, types []string, edit func(predicateType string, st map[string]any)) []attest.Statement {
	t.Helper()
	p := attest.Params{HardenVersion: "test", Getenv: func(string) string { return "" }}
	rel2 := *rel
	rel2.Digest = w.res.Record.Digest // statements come from the build record
	sts, err := attest.Statements(p, &attest.Facts{Record: w.res.Record, Release: &rel2, SBOMs: w.res.SBOMs(t, rel2.Repository)}, types)
	if err != nil {
		t.Fatal(err)
	}
	oldHex := strings.TrimPrefix(w.res.Record.Digest, "sha256:")
	newHex := strings.TrimPrefix(rel.Digest, "sha256:")
	for i := range sts {
		var m map[string]any
		if err := json.Unmarshal(sts[i].Payload, &m); err != nil {
			t.Fatal(err)
		}
		// The statements describe the build; a case that publishes a
		// variant of the index names the variant as the subject.
		for _, sub := range m["subject"].([]any) {
			d := sub.(map[string]any)["digest"].(map[string]any)
			if d["sha256"] == oldHex {
				d["sha256"] = newHex
			}
		}
		if edit != nil {
			edit(sts[i].PredicateType, m)
		}
		if sts[i].Payload, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	return sts
}

func (w *world) release(t *testing.T, rel *dist.Release, subs []name.Digest, storage attach.Storage, edit func(string, map[string]any)) {
	t.Helper()
	ctx := context.Background()
	a := w.attester(storage)
	if _, err := a.Sign(ctx, subs); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Attest(ctx, w.statements(t, rel, subs, attest.AllTypes, edit)); err != nil {
		t.Fatal(err)
	}
}

func (w *world) verify(t *testing.T, image string, mod func(*verify.Options)) (*verify.Report, error) {
	t.Helper()
	o := verify.Options{Image: image, Identity: verify.Identity{Subject: email, Issuer: w.st.Issuer.URL()},
		Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath, Offline: true}, Registry: w.res.Client}
	if mod != nil {
		mod(&o)
	}
	return verify.Verify(context.Background(), o)
}

// failed returns the names of the failed checks.
func failed(r *verify.Report) string {
	var n []string
	for _, c := range r.Failed() {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

func wantFail(t *testing.T, r *verify.Report, err error, check, reason string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if r.Verified {
		t.Fatalf("verified, want the %s check to fail", check)
	}
	for _, c := range r.Failed() {
		if c.Name == check && strings.Contains(c.Reason, reason) {
			t.Logf("FAIL %s: %s", c.Name, c.Reason)
			return
		}
	}
	t.Fatalf("want failed check %s mentioning %q; failed: %+v", check, reason, r.Failed())
}

func TestTamperMatrix(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	good, goodSubs := w.copyImage(t, nil)
	w.release(t, good, goodSubs, attach.Both, nil)

	t.Run("good image passes", func(t *testing.T) {
		r, err := w.verify(t, good.Image, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Verified {
			t.Fatalf("failed: %+v", r.Failed())
		}
		if strings.Join(r.Storage, ",") != "legacy,referrers" {
			t.Errorf("storage found = %v", r.Storage)
		}
		if r.Input == nil || len(r.Input.Attestations) == 0 || r.Input.SchemaVersion != verify.InputSchema {
			t.Errorf("policy input incomplete: %+v", r.Input)
		}
	})
	t.Run("good image passes offline from an export", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "export")
		res, err := export.Export(ctx, w.res.Client, mustDigest(t, good.Image), dir)
		if err != nil {
			t.Fatal(err)
		}
		if res.Referrers == 0 || res.Tags == 0 {
			t.Fatalf("export holds %d referrers and %d tags", res.Referrers, res.Tags)
		}
		if _, err := export.Export(ctx, w.res.Client, mustDigest(t, good.Image), dir); errs.ExitCode(err) != 2 {
			t.Fatalf("export over an existing dir: %v", err)
		}
		// No registry client at all: everything comes from the layout.
		r, err := verify.Verify(ctx, verify.Options{Layout: dir, Identity: verify.Identity{Subject: email, Issuer: w.st.Issuer.URL()},
			Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath, Offline: true}})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Verified || r.Image != good.Image {
			t.Fatalf("offline verify of %s: %+v", r.Image, r.Failed())
		}
		r, err = verify.Verify(ctx, verify.Options{Layout: dir, Identity: verify.Identity{Subject: "mallory@example.com", Issuer: w.st.Issuer.URL()},
			Trust: sign.TrustOptions{TrustedRootPath: w.st.TrustedRootPath, Offline: true}})
		wantFail(t, r, err, "signature", "mallory@example.com")
	})
	t.Run("Rego deny", func(t *testing.T) {
		pol := filepath.Join(t.TempDir(), "no-pgcli.rego")
		rule := "package harden\n\ndeny contains \"pgcli is banned here\" if {\n\tsome a in input.attestations\n\ta.predicateType == \"https://slsa.dev/provenance/v1\"\n\tsome d in a.statement.predicate.buildDefinition.resolvedDependencies\n\td.name == \"pgcli\"\n}\n"
		if err := os.WriteFile(pol, []byte(rule), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := w.verify(t, good.Image, func(o *verify.Options) { o.Policies = []string{pol} })
		wantFail(t, r, err, "policy", "pgcli is banned here")
		if n := len(r.Failed()); n != 1 {
			t.Errorf("%d failed checks, want only the policy: %+v", n, r.Failed())
		}
	})
	t.Run("anchored regexp passes", func(t *testing.T) {
		r, err := w.verify(t, good.Image, func(o *verify.Options) {
			o.Identity = verify.Identity{SubjectRegexp: verify.Anchor(`release@example\.com`), Issuer: w.st.Issuer.URL()}
		})
		if err != nil || !r.Verified {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("wrong SAN", func(t *testing.T) {
		r, err := w.verify(t, good.Image, func(o *verify.Options) { o.Identity.Subject = "mallory@example.com" })
		wantFail(t, r, err, "signature", "mallory@example.com")
	})
	t.Run("wrong issuer", func(t *testing.T) {
		r, err := w.verify(t, good.Image, func(o *verify.Options) { o.Identity.Issuer = "https://issuer.example" })
		wantFail(t, r, err, "signature", "issuer")
	})
	t.Run("unanchored regexp would match a longer SAN", func(t *testing.T) {
		r, err := w.verify(t, good.Image, func(o *verify.Options) {
			o.Identity = verify.Identity{SubjectRegexp: verify.Anchor(`release@example`), Issuer: w.st.Issuer.URL()}
		})
		wantFail(t, r, err, "signature", "signed by release@example.com")
	})
	t.Run("foreign Fulcio root", func(t *testing.T) {
		other := sigstoretest.Start(t)
		r, err := w.verify(t, good.Image, func(o *verify.Options) { o.Trust.TrustedRootPath = other.TrustedRootPath })
		wantFail(t, r, err, "signature", "trusted root")
	})
	t.Run("a tag instead of a digest", func(t *testing.T) {
		tag, _ := name.NewTag(strings.SplitN(good.Image, "@", 2)[0] + ":latest")
		idx, err := remote.Index(mustDigest(t, good.Image))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Tag(tag, idx); err != nil {
			t.Fatal(err)
		}
		_, err = w.verify(t, tag.String(), nil)
		if errs.ExitCode(err) != 2 || !strings.Contains(err.Error(), good.Digest) || !strings.Contains(err.Error(), "harden verify "+good.Image) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("unsigned image", func(t *testing.T) {
		rel, _ := w.copyImage(t, nil)
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "signature", "not signed")
		wantFail(t, r, err, "storage", "no signatures")
	})
	t.Run("only the index is signed", func(t *testing.T) {
		rel, subs := w.copyImage(t, nil)
		if _, err := w.attester(attach.Referrers).Sign(ctx, subs[:1]); err != nil {
			t.Fatal(err)
		}
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "signature", "linux/amd64: not signed")
	})
	t.Run("SBOM missing", func(t *testing.T) {
		rel, subs := w.copyImage(t, nil)
		a := w.attester(attach.Referrers)
		if _, err := a.Sign(ctx, subs); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Attest(ctx, w.statements(t, rel, subs, []string{attest.TypeSLSA}, nil)); err != nil {
			t.Fatal(err)
		}
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "sbom", "no signed SPDX or CycloneDX SBOM")
	})
	t.Run("provenance replayed from another image", func(t *testing.T) {
		rel, subs := w.copyImage(t, otherIndex(t, w.res.Index))
		if _, err := w.attester(attach.Referrers).Sign(ctx, subs); err != nil {
			t.Fatal(err)
		}
		// Copy the good image's provenance referrer onto this one.
		f, err := attach.New(w.res.Client).Find(ctx, goodSubs[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range f.Referrers {
			if ref.Annotations[attach.AnnotationPredType] == verify.SLSAPredicateType {
				if _, err := attach.New(w.res.Client).PutReferrer(ctx, subs[0], attach.Referrer{Bundle: ref.Bundle, Content: attach.ContentDSSE, PredicateType: verify.SLSAPredicateType}); err != nil {
					t.Fatal(err)
				}
			}
		}
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "provenance", "no signed SLSA v1 provenance for this digest")
	})
	t.Run("provenance modified after signing", func(t *testing.T) {
		rel := w.tamperedProvenance(t, func(b *bundle.Bundle) []byte {
			raw, err := sign.MarshalBundle(b)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			env := m["dsseEnvelope"].(map[string]any)
			env["payload"] = strings.Replace(env["payload"].(string), "A", "B", 1)
			out, _ := json.Marshal(m)
			return out
		})
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "provenance", "no signed SLSA v1 provenance")
	})
	t.Run("expired certificate without a timestamp", func(t *testing.T) {
		// Rekor v2 entries carry no time; without the TSA timestamp nothing
		// proves the short-lived certificate was valid when it signed.
		rel := w.tamperedProvenance(t, func(b *bundle.Bundle) []byte {
			b.GetVerificationMaterial().TimestampVerificationData = nil
			raw, err := sign.MarshalBundle(b)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		})
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "provenance", "timestamp")
	})
	t.Run("provenance with the base by tag", func(t *testing.T) {
		rel, subs := w.copyImage(t, otherIndex(t, w.res.Index))
		w.release(t, rel, subs, attach.Referrers, func(pt string, st map[string]any) {
			if pt != verify.SLSAPredicateType {
				return
			}
			deps := st["predicate"].(map[string]any)["buildDefinition"].(map[string]any)["resolvedDependencies"].([]any)
			for _, d := range deps {
				dm := d.(map[string]any)
				if dm["name"] == "base-image" {
					dm["uri"] = strings.SplitN(dm["uri"].(string), "@", 2)[0] + ":3.11"
					delete(dm, "digest")
				}
			}
		})
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "provenance", "not pinned by digest")
	})
	t.Run("SBOM lacks a locked package", func(t *testing.T) {
		rel, subs := w.copyImage(t, otherIndex(t, w.res.Index))
		w.release(t, rel, subs, attach.Referrers, dropPackage("pgcli"))
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "sbom", "missing from the SBOM: pgcli==")
	})
	t.Run("extra package in the SBOM", func(t *testing.T) {
		rel, subs := w.copyImage(t, otherIndex(t, w.res.Index))
		app := w.res.Record.Platforms[0].AppLayers[1]
		w.release(t, rel, subs, attach.Referrers, func(pt string, st map[string]any) {
			if pt != verify.CycloneDXPredicateType {
				return
			}
			pred := st["predicate"].(map[string]any)
			pred["components"] = append(pred["components"].([]any), map[string]any{
				"type": "library", "name": "evil", "version": "6.6.6", "purl": "pkg:pypi/evil@6.6.6",
				"properties": []any{map[string]any{"name": "syft:location:0:layerID", "value": app}},
			})
		})
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "sbom", "not in the provenance: evil==6.6.6")
	})
	t.Run("image config user 0", func(t *testing.T) {
		rel, subs := w.copyImage(t, rootIndex(t, w.res.Index))
		if _, err := w.attester(attach.Referrers).Sign(ctx, subs); err != nil {
			t.Fatal(err)
		}
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "config", "runs as root")
	})
	t.Run("legacy layout needs the timestamp flag with Rekor v2", func(t *testing.T) {
		rel, subs := w.copyImage(t, otherIndex(t, w.res.Index))
		w.release(t, rel, subs, attach.Legacy, nil)
		r, err := w.verify(t, rel.Image, nil)
		wantFail(t, r, err, "signature", "--insecure-ignore-tlog")
		r, err = w.verify(t, rel.Image, func(o *verify.Options) { o.InsecureIgnoreTlog = true })
		if err != nil || !r.Verified {
			t.Fatalf("legacy with --insecure-ignore-tlog: %v %+v", err, r.Failed())
		}
	})
}

func mustDigest(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// otherIndex is the fixture index with an annotation, so a different
// digest with the same platform images.
func otherIndex(t *testing.T, idx v1.ImageIndex) v1.ImageIndex {
	t.Helper()
	return mutate.Annotations(idx, map[string]string{"test.case": fmt.Sprint(len(t.Name()), t.Name())}).(v1.ImageIndex)
}

// rootIndex rebuilds the index with each image's user set to 0.
func rootIndex(t *testing.T, idx v1.ImageIndex) v1.ImageIndex {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := mutate.IndexMediaType(empty.Index, im.MediaType)
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.User = "0:0"
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		out = mutate.AppendManifests(out, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: m.Platform}})
	}
	return out
}

// dropPackage removes a Python package from both SBOM formats.
func dropPackage(pkg string) func(string, map[string]any) {
	return func(pt string, st map[string]any) {
		pred, _ := st["predicate"].(map[string]any)
		switch pt {
		case verify.CycloneDXPredicateType:
			var keep []any
			for _, c := range pred["components"].([]any) {
				if c.(map[string]any)["name"] != pkg {
					keep = append(keep, c)
				}
			}
			pred["components"] = keep
		case verify.SPDXPredicateType:
			var keep []any
			for _, p := range pred["packages"].([]any) {
				if p.(map[string]any)["name"] != pkg {
					keep = append(keep, p)
				}
			}
			pred["packages"] = keep
		}
	}
}

// tamperedProvenance publishes a signed copy of the image, signs its
// provenance, lets tamper change the bundle, and attaches the result.
func (w *world) tamperedProvenance(t *testing.T, tamper func(*bundle.Bundle) []byte) *dist.Release {
	t.Helper()
	ctx := context.Background()
	rel, subs := w.copyImage(t, otherIndex(t, w.res.Index))
	if _, err := w.attester(attach.Referrers).Sign(ctx, subs); err != nil {
		t.Fatal(err)
	}
	sts := w.statements(t, rel, subs, []string{attest.TypeSLSA}, nil)
	b, err := w.signer.DSSE(ctx, attest.InTotoPayloadType, sts[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attach.New(w.res.Client).PutReferrer(ctx, subs[0], attach.Referrer{Bundle: tamper(b), Content: attach.ContentDSSE, PredicateType: verify.SLSAPredicateType}); err != nil {
		t.Fatal(err)
	}
	return rel
}
