package smoke

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"

	"github.com/harden-dev/harden/internal/layer"
)

// Unpack writes the merged filesystem of img into root, keeping modes and
// numeric owners (owners need root). No entry may write outside root: paths
// are cleaned and no parent directory may be a symlink.
func Unpack(img v1.Image, root string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	asRoot := os.Geteuid() == 0
	tr := tar.NewReader(rc)
	type dirMode struct {
		p    string
		mode os.FileMode
	}
	var dirs []dirMode
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read image filesystem: %w", err)
		}
		rel, err := layer.CleanPath(h.Name)
		if err != nil {
			continue
		}
		dst := filepath.Join(root, filepath.FromSlash(rel))
		if err := checkParents(root, rel); err != nil {
			return err
		}
		mode := os.FileMode(h.Mode & 0o777)
		switch h.Typeflag {
		case tar.TypeDir:
			if fi, err := os.Lstat(dst); err != nil || !fi.IsDir() {
				_ = os.RemoveAll(dst)
				if err := os.Mkdir(dst, 0o700); err != nil {
					return fmt.Errorf("unpack %s: %w", rel, err)
				}
			}
			dirs = append(dirs, dirMode{dst, layer.FileMode(h.Mode)})
		case tar.TypeReg, tar.TypeRegA:
			_ = os.RemoveAll(dst)
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("unpack %s: %w", rel, err)
			}
			_, cerr := io.Copy(f, tr)
			if err := errors.Join(cerr, f.Close()); err != nil {
				return fmt.Errorf("unpack %s: %w", rel, err)
			}
		case tar.TypeSymlink:
			_ = os.RemoveAll(dst)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return fmt.Errorf("unpack %s: %w", rel, err)
			}
		case tar.TypeLink:
			target, err := layer.CleanPath(h.Linkname)
			if err != nil {
				return fmt.Errorf("unpack %s: hard link to %q leaves the root", rel, h.Linkname)
			}
			if err := checkParents(root, target); err != nil {
				return err
			}
			_ = os.RemoveAll(dst)
			if err := os.Link(filepath.Join(root, filepath.FromSlash(target)), dst); err != nil {
				return fmt.Errorf("unpack %s: %w", rel, err)
			}
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			if !asRoot {
				continue // runtimes mount their own /dev
			}
			_ = os.RemoveAll(dst)
			kind := uint32(unix.S_IFCHR)
			switch h.Typeflag {
			case tar.TypeBlock:
				kind = unix.S_IFBLK
			case tar.TypeFifo:
				kind = unix.S_IFIFO
			}
			dev := unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
			if err := unix.Mknod(dst, kind|uint32(mode), int(dev)); err != nil {
				return fmt.Errorf("unpack %s: %w", rel, err)
			}
		default:
			continue
		}
		if asRoot {
			if err := os.Lchown(dst, h.Uid, h.Gid); err != nil {
				return fmt.Errorf("unpack %s: %w", rel, err)
			}
		}
		// Creation is subject to the umask: set the exact mode afterwards
		// (a 0644 /dev/null breaks every non-root process in the image).
		if h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeDir {
			if err := os.Chmod(dst, layer.FileMode(h.Mode)); err != nil {
				return fmt.Errorf("unpack %s: %w", rel, err)
			}
		}
	}
	// Directory modes last, so that read-only directories can be filled.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].p, dirs[i].mode); err != nil {
			return fmt.Errorf("unpack %s: %w", dirs[i].p, err)
		}
	}
	return nil
}

// checkParents refuses rel when any existing parent under root is a
// symlink: writing through it could land outside root.
func checkParents(root, rel string) error {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	cur := root
	for _, seg := range strings.Split(dir, "/") {
		cur = filepath.Join(cur, seg)
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			if err := os.Mkdir(cur, 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", rel, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", rel, err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("image entry %s is under a symlinked directory; refusing to write through it", rel)
		}
		if !fi.IsDir() {
			return fmt.Errorf("image entry %s: parent is not a directory", rel)
		}
	}
	return nil
}
