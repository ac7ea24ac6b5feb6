package build

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"

	"github.com/harden-dev/harden/internal/layer"
	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheels"
)

// shadowBaseDists removes, with whiteouts, the files of any distribution
// the base already has in the target site-packages that the lock pins
// too, as pip would uninstall it first. Without this an upgraded package
// would keep stale modules from the base.
func shadowBaseDists(fs *layer.Tree, out *layer.Tree, s wheel.Scheme, picks []wheels.Pick) error {
	locked := map[string]bool{}
	for _, p := range picks {
		locked[wheel.NormalizeName(p.Req.Name)] = true
	}
	sites := []string{s.Purelib}
	if s.Platlib != s.Purelib {
		sites = append(sites, s.Platlib)
	}
	for _, site := range sites {
		for _, rec := range fs.Glob(strings.TrimPrefix(site, "/") + "/*.dist-info/RECORD") {
			distInfo := path.Dir(rec)
			dist := strings.TrimSuffix(path.Base(distInfo), ".dist-info")
			if i := strings.Index(dist, "-"); i > 0 {
				dist = dist[:i]
			}
			if !locked[wheel.NormalizeName(dist)] {
				continue
			}
			e, _, err := fs.Resolve(rec)
			if err != nil || e.Data == nil {
				return fmt.Errorf("base has %s but its RECORD is unreadable; cannot replace it cleanly", distInfo)
			}
			entries, err := wheel.ParseRecord(e.Data)
			if err != nil {
				return fmt.Errorf("base %s: %w", rec, err)
			}
			for _, r := range entries {
				p := path.Clean(path.Join(site, r.Path))
				if !strings.HasPrefix(p, "/") || strings.Contains(p, "/../") {
					continue
				}
				if _, ok := out.Get(p); ok {
					continue
				}
				if ent, _, err := fs.Resolve(p); err != nil || ent.Type == tar.TypeDir {
					continue
				}
				wh := path.Join(path.Dir(p), ".wh."+path.Base(p))
				if err := out.Add(layer.Entry{Path: wh, Type: tar.TypeReg, Mode: 0o644}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
