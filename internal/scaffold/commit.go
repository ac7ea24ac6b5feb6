package scaffold

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/harden-dev/harden/internal/errs"
)

// staged is one file written to a temporary name beside its target.
type staged struct {
	file
	target, tmp string
	backup      string // the replaced file, kept until the end
	existed     bool
}

// commit writes files under dir as one step: each goes to a temporary
// file beside its target (synced), then all are renamed into place. On
// any failure the files already moved are moved back, replaced ones are
// restored, and directories commit created are removed, so dir is as it
// was. Without force an existing file (other than a merged .gitignore) is
// refused, checked again here in case one appeared meanwhile.
func commit(dir string, files []file, force bool) ([]Written, error) {
	return commitWith(os.Rename, dir, files, force)
}

// commitWith is commit with the rename to use (tests make it fail).
func commitWith(rename func(from, to string) error, dir string, files []file, force bool) (written []Written, err error) {
	var made []string // directories created, deepest last
	var st []*staged
	defer func() {
		if err == nil {
			return
		}
		for _, s := range st {
			if s.tmp != "" {
				os.Remove(s.tmp)
			}
		}
		for _, d := range slices.Backward(made) {
			os.Remove(d) // only if still empty
		}
	}()

	for _, f := range files {
		target := filepath.Join(dir, filepath.FromSlash(f.path))
		s := &staged{file: f, target: target}
		st = append(st, s)
		if _, lerr := os.Lstat(target); lerr == nil {
			s.existed = true
			if !force && !f.merge {
				return nil, errs.Input(fmt.Errorf("%s appeared while harden init ran; nothing was written", target))
			}
		}
		if made, err = mkdirs(filepath.Dir(target), made); err != nil {
			return nil, err
		}
		if s.tmp, err = writeTemp(target, f.data); err != nil {
			return nil, err
		}
	}

	// Move everything into place; undo it all if one move fails.
	var done []*staged
	undo := func() {
		for _, s := range slices.Backward(done) {
			if s.backup != "" {
				rename(s.backup, s.target)
			} else {
				os.Remove(s.target)
			}
		}
	}
	for _, s := range st {
		if s.existed {
			s.backup = s.tmp + ".old"
			if err = rename(s.target, s.backup); err != nil {
				s.backup = ""
				undo()
				return nil, fmt.Errorf("replace %s: %w", s.target, err)
			}
		}
		if err = rename(s.tmp, s.target); err != nil {
			if s.backup != "" {
				rename(s.backup, s.target)
			}
			undo()
			return nil, fmt.Errorf("write %s: %w", s.target, err)
		}
		s.tmp = ""
		done = append(done, s)
	}
	for _, s := range st {
		action := "wrote"
		if s.backup != "" {
			os.Remove(s.backup)
			action = "replaced"
			if s.merge {
				action = "updated"
			}
		}
		written = append(written, Written{Path: s.path, Action: action})
	}
	return written, nil
}

// mkdirs creates dir and its missing parents, recording each one made.
func mkdirs(dir string, made []string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err == nil {
			if !info.IsDir() {
				return made, fmt.Errorf("%s is not a directory", d)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return made, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for _, d := range slices.Backward(missing) {
		if err := os.Mkdir(d, 0o755); err != nil {
			return made, fmt.Errorf("create %s: %w", d, err)
		}
		made = append(made, d)
	}
	return made, nil
}

// writeTemp writes data to a synced temporary file beside target.
func writeTemp(target string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", target, err)
	}
	name := f.Name()
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", target, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", target, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", target, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", target, err)
	}
	return name, nil
}
