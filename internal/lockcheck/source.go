package lockcheck

import (
	"context"

	"github.com/harden-dev/harden/internal/wheels"
)

// memoSource lists each project once: Check asks for every pin on every
// target, and an index would otherwise be asked as many times. Check runs
// sequentially, so no lock is needed.
type memoSource struct {
	wheels.Source
	files map[string][]wheels.File
}

func (m *memoSource) Files(ctx context.Context, key string) ([]wheels.File, error) {
	if fs, ok := m.files[key]; ok {
		return fs, nil
	}
	fs, err := m.Source.Files(ctx, key)
	if err != nil {
		return nil, err
	}
	m.files[key] = fs
	return fs, nil
}
