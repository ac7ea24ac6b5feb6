package relocate

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/harden-dev/harden/internal/errs"
)

// readBack proves the copy: every manifest and referrer reads back from
// the destination by digest (the reader hashes what it gets), every
// referrer is listed for its subject (with artifactType and annotations
// in a fallback tag), and every legacy tag holds the source's entries.
func (c *copier) readBack(ctx context.Context, subjects []v1.Hash) error {
	var problems []error
	for _, o := range c.res.Objects {
		switch o.Kind {
		case KindIndex, KindManifest, KindReferrer:
			if _, err := c.dstPull.Get(ctx, c.dstRepo.Digest(o.Ref)); err != nil {
				return c.fail("read back "+o.Kind+" "+o.Ref, err)
			}
		case KindLegacyTag:
			d, err := c.dstPull.Get(ctx, c.dstRepo.Tag(o.Ref))
			if err != nil {
				return c.fail("read back tag "+o.Ref, err)
			}
			m, err := parseManifest(d)
			if err != nil {
				problems = append(problems, fmt.Errorf("tag %s: %w", o.Ref, err))
				continue
			}
			for _, l := range c.legacy[o.Ref] {
				if !hasEntry(m.Layers, l) {
					problems = append(problems, fmt.Errorf("tag %s lacks the source's entry %s", o.Ref, l.Digest))
				}
			}
		}
	}
	fallback := c.res.ReferrersStorage != "api"
	for _, sub := range subjects {
		listed, err := c.listed(ctx, c.dstRepo, c.dstOpts, sub)
		if err != nil {
			return err
		}
		for _, o := range c.res.Objects {
			if o.Kind != KindReferrer || o.Subject != sub.String() {
				continue
			}
			h, err := v1.NewHash(o.Ref)
			if err != nil {
				return err
			}
			d, ok := listed[h]
			if !ok {
				problems = append(problems, fmt.Errorf("referrer %s is not listed for %s", o.Ref, sub))
				continue
			}
			if !fallback {
				continue
			}
			m := c.attached[h]
			if d.ArtifactType == "" {
				problems = append(problems, fmt.Errorf("fallback tag %s lists %s without artifactType", tagOf(sub, ""), o.Ref))
			}
			for k, v := range m.Annotations {
				if d.Annotations[k] != v {
					problems = append(problems, fmt.Errorf("fallback tag %s lists %s without its annotation %s", tagOf(sub, ""), o.Ref, k))
				}
			}
		}
	}
	if len(problems) > 0 {
		return errs.Check(fmt.Errorf("read back %s: %w", c.dstRepo, errors.Join(problems...)))
	}
	return nil
}
