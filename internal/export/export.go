// Package export writes an image and everything attached to it (OCI
// referrers and cosign .sig/.att images) into one OCI layout, and serves
// such a layout back as a registry on loopback, so that verification can
// run on an air-gapped machine with the same code as online.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/registry"
)

// Annotations on index.json entries of an export.
const (
	AnnotationRefName = "org.opencontainers.image.ref.name" // the exported image, repo@digest
	AnnotationRole    = "dev.harden.export.role"            // image, referrer or tag
	AnnotationTag     = "dev.harden.export.tag"             // legacy tag name (sha256-<hex>.sig)
)

// Result says what was exported.
type Result struct {
	Image     string `json:"image"`
	Layout    string `json:"layout"`
	Referrers int    `json:"referrers"`
	Tags      int    `json:"tags"`
}

// Export copies ref (an index or image by digest), the referrers of it
// and of each platform manifest, and cosign's legacy tags into a new OCI
// layout at dir. dir must not exist; it appears only when complete.
func Export(ctx context.Context, rc *registry.Client, ref name.Digest, dir string) (*Result, error) {
	if _, err := os.Stat(dir); err == nil {
		return nil, errs.Input(fmt.Errorf("%s exists; export writes a new directory", dir))
	}
	opts := rc.Remote(ctx)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, registry.Classify(fmt.Errorf("fetch %s: %w", ref, err))
	}
	res := &Result{Image: ref.String(), Layout: dir}
	tmp := dir + ".partial"
	_ = os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("create layout: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()
	subjects := []name.Digest{ref}
	ann := map[string]string{AnnotationRefName: ref.String(), AnnotationRole: "image"}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		if err := p.AppendIndex(idx, layout.WithAnnotations(ann)); err != nil {
			return nil, registry.Classify(fmt.Errorf("copy %s: %w", ref, err))
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			subjects = append(subjects, ref.Context().Digest(m.Digest.String()))
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		if err := p.AppendImage(img, layout.WithAnnotations(ann)); err != nil {
			return nil, registry.Classify(fmt.Errorf("copy %s: %w", ref, err))
		}
	}
	for _, sub := range subjects {
		ri, err := remote.Referrers(sub, opts...)
		if err != nil {
			return nil, registry.Classify(fmt.Errorf("list referrers of %s: %w", sub, err))
		}
		rim, err := ri.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, d := range rim.Manifests {
			img, err := remote.Image(sub.Context().Digest(d.Digest.String()), opts...)
			if err != nil {
				return nil, registry.Classify(fmt.Errorf("fetch referrer %s: %w", d.Digest, err))
			}
			if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{AnnotationRole: "referrer"})); err != nil {
				return nil, registry.Classify(fmt.Errorf("copy referrer %s: %w", d.Digest, err))
			}
			res.Referrers++
		}
		for _, suffix := range []string{".sig", ".att"} {
			tag := sub.Context().Tag(strings.Replace(sub.DigestStr(), ":", "-", 1) + suffix)
			img, err := remote.Image(tag, opts...)
			if registry.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, registry.Classify(fmt.Errorf("fetch %s: %w", tag, err))
			}
			if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{AnnotationRole: "tag", AnnotationTag: tag.TagStr()})); err != nil {
				return nil, registry.Classify(fmt.Errorf("copy %s: %w", tag, err))
			}
			res.Tags++
		}
	}
	if err := fsutil.ReplaceDir(tmp, dir); err != nil {
		return nil, fmt.Errorf("finish export: %w", err)
	}
	ok = true
	return res, nil
}

// Served is an export loaded into an in-process registry on loopback.
type Served struct {
	Image name.Digest // the exported image at the local registry
	Orig  name.Digest // as it was exported
	srv   *http.Server
	ln    net.Listener
	// names shows the served repository as the exported one, and the
	// loopback address as the layout directory.
	names *strings.Replacer
}

// Close stops the registry.
func (s *Served) Close() error { return s.srv.Close() }

// HideText shows the served repository in t as the exported one, and
// any other mention of the loopback registry as the layout directory:
// the address is an internal detail, the directory is what the user
// named.
func (s *Served) HideText(t string) string { return s.names.Replace(t) }

// Hide is HideText for an error; the error chain (and so its exit code)
// is kept.
func (s *Served) Hide(err error) error {
	if err == nil {
		return nil
	}
	return &hiddenError{err: err, names: s.names}
}

type hiddenError struct {
	err   error
	names *strings.Replacer
}

func (e *hiddenError) Error() string { return e.names.Replace(e.err.Error()) }
func (e *hiddenError) Unwrap() error { return e.err }

// Serve loads the export in dir into a registry on 127.0.0.1 (with the
// referrers API) under the same repository path, so that verification
// code reads it exactly as it would read the original registry. Blobs are
// served from the layout's files as they are: their readers check digests,
// as they check a remote registry's.
func Serve(ctx context.Context, dir string) (*Served, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%s is not an OCI layout written by harden export: %w", dir, err))
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%s: %w", dir, err))
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, errs.Input(fmt.Errorf("%s: %w", dir, err))
	}
	var orig name.Digest
	for _, m := range im.Manifests {
		if m.Annotations[AnnotationRole] == "image" {
			if orig, err = name.NewDigest(m.Annotations[AnnotationRefName]); err != nil {
				return nil, errs.Input(fmt.Errorf("%s: exported image name: %w", dir, err))
			}
		}
	}
	if orig.DigestStr() == "" {
		return nil, errs.Input(fmt.Errorf("%s holds no exported image; write it with harden export", dir))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true),
		ggcrregistry.WithBlobHandler(layoutBlobs{dir: dir}))}
	go func() { _ = srv.Serve(ln) }()
	addr := ln.Addr().String()
	s := &Served{srv: srv, ln: ln, Orig: orig}
	repo, err := name.NewRepository(addr+"/"+orig.Context().RepositoryStr(), name.Insecure)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Image = repo.Digest(orig.DigestStr())
	// The repository first: at one position the first matching pair wins.
	s.names = strings.NewReplacer(repo.String(), orig.Context().String(), "http://"+addr, dir, addr, dir)
	ropts := []remote.Option{remote.WithContext(ctx)}
	// Subjects before their referrers, so the registry can index them.
	for _, role := range []string{"image", "referrer", "tag"} {
		for _, m := range im.Manifests {
			if m.Annotations[AnnotationRole] != role {
				continue
			}
			if err := put(p, m, repo, ropts); err != nil {
				s.Close()
				return nil, s.Hide(fmt.Errorf("load %s: %w", dir, err))
			}
		}
	}
	return s, nil
}

// layoutBlobs serves the blobs of a layout from its files, so that serving
// an export holds only manifests in memory. It has no Put: every blob a
// load writes is already in the layout.
type layoutBlobs struct{ dir string }

func (b layoutBlobs) path(h v1.Hash) (string, bool) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 || strings.Trim(h.Hex, "0123456789abcdef") != "" {
		return "", false
	}
	return filepath.Join(b.dir, "blobs", h.Algorithm, h.Hex), true
}

func (b layoutBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	p, ok := b.path(h)
	if !ok {
		return 0, ggcrregistry.ErrNotFound
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ggcrregistry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (b layoutBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	p, ok := b.path(h)
	if !ok {
		return nil, ggcrregistry.ErrNotFound
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ggcrregistry.ErrNotFound
	}
	return f, err
}

func put(p layout.Path, m v1.Descriptor, repo name.Repository, ropts []remote.Option) error {
	var ref name.Reference = repo.Digest(m.Digest.String())
	if t := m.Annotations[AnnotationTag]; t != "" {
		ref = repo.Tag(t)
	}
	if m.MediaType == types.OCIImageIndex || m.MediaType == types.DockerManifestList {
		idx, err := p.ImageIndex()
		if err != nil {
			return err
		}
		sub, err := idx.ImageIndex(m.Digest)
		if err != nil {
			return err
		}
		return remote.WriteIndex(ref, sub, ropts...)
	}
	img, err := p.Image(m.Digest)
	if err != nil {
		return err
	}
	return remote.Write(ref, img, ropts...)
}
