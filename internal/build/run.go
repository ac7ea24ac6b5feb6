package build

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/buildrecord"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/gitinfo"
	"github.com/harden-dev/harden/internal/project"
	"github.com/harden-dev/harden/internal/registry"
	"github.com/harden-dev/harden/internal/wheels"
)

// Params are the command-level inputs of harden build.
type Params struct {
	Project         *project.Project
	Out             string // output dir: oci/ and build.json
	WheelDir        string // offline wheel source; wins over IndexURL
	IndexURL        string // simple index; "" = config, then PyPI
	CacheDir        string
	SourceDateEpoch string // the SOURCE_DATE_EPOCH variable, "" if unset
	Registry        *registry.Client
	HTTPClient      *http.Client
	Log             func(format string, args ...any)
	// Base, when set, is the base already read by baseimage.Inspect.
	Base *baseimage.Base
}

// Run builds the project's image and writes it to p.Out.
func Run(ctx context.Context, p Params) (*buildrecord.Record, error) {
	epoch, err := gitinfo.Epoch(p.SourceDateEpoch, p.Project.Git)
	if err != nil {
		return nil, errs.Input(err)
	}
	src, cache, err := wheels.ForProject(p.Project, p.WheelDir, p.IndexURL, p.CacheDir, p.HTTPClient)
	if err != nil {
		return nil, err
	}
	st, err := newStage(p.Out)
	if err != nil {
		return nil, err
	}
	defer st.discard()
	start := time.Now()
	idx, rec, err := Build(ctx, Options{
		Config: p.Project.Config, Lock: p.Project.Lock, Input: p.Project.Input, BlobDir: st.blobDir(),
		Source: src, Cache: cache, Registry: p.Registry, Epoch: epoch, Git: p.Project.Git, Log: p.Log, Base: p.Base,
	})
	if err != nil {
		return nil, err
	}
	rec.StartedOn, rec.FinishedOn = start.UTC().Round(time.Millisecond), time.Now().UTC().Round(time.Millisecond)
	if err := st.commit(idx, rec); err != nil {
		return nil, fmt.Errorf("write build output: %w", err)
	}
	if p.Log != nil {
		p.Log("wrote %s in %s", p.Out, time.Since(start).Round(time.Millisecond))
	}
	return rec, nil
}
