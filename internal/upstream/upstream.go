// Package upstream checks the upstream provenance of locked files: it
// fetches the PEP 740 provenance object an index serves for each file (or
// reads it from the cache), verifies it with internal/pep740 against a
// Sigstore trusted root, applies the upstream: policy of harden.yaml and
// trust on first use against the previous lock, and returns the records
// harden lock writes into the lock ("# provenance:" comments) with a
// coverage report. docs/upstream.md describes the rules.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"golang.org/x/sync/errgroup"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/pep740"
	"github.com/harden-dev/harden/internal/wording"
)

// File is one locked distribution file.
type File struct {
	Filename string
	SHA256   string // lowercase hex
	// Listing is what the project's simple page said of the file's
	// provenance, when the caller has read it (the resolver), so that
	// an Index does not read the page again; nil: the Index reads it.
	Listing *Listing
}

// Listing is a page's word on one file's provenance.
type Listing struct {
	Provenance json.RawMessage // wheels.File.Provenance
}

// Pin is one locked package and the files its hashes stand for.
type Pin struct {
	Key     string // PEP 503 normalised
	Name    string // as the lock writes it
	Version string
	Files   []File
}

func (p Pin) String() string { return p.Name + " " + p.Version }

// Policy is upstream: of harden.yaml, by package key.
type Policy struct {
	RequireAll  bool
	Require     map[string]bool
	Publishers  map[string]lock.Publisher
	MissingFail bool
	// Config is the harden.yaml the policy comes from, for messages.
	Config string
}

// PolicyOf reads the policy of c (nil: the defaults).
func PolicyOf(c *config.Config) Policy {
	p := Policy{Require: map[string]bool{}, Publishers: map[string]lock.Publisher{}, Config: "harden.yaml"}
	if c == nil {
		return p
	}
	p.Config = c.Path
	u := c.UpstreamPolicy()
	p.RequireAll = u.Require.All
	for _, n := range u.Require.Packages {
		p.Require[lock.NormalizeName(n)] = true
	}
	for n, pub := range u.Publishers {
		p.Publishers[lock.NormalizeName(n)] = lock.Publisher{Kind: pub.Kind, Repository: pub.Repository,
			Workflow: pub.Workflow, Environment: pub.Environment, Email: pub.Email}
	}
	p.MissingFail = u.Missing == config.MissingFail
	return p
}

// Options configure Check.
type Options struct {
	Source Source
	// Trust returns the trusted root attestations are verified against.
	// It is called at most once, and only when a file has a provenance
	// object.
	Trust  func() (root.TrustedMaterial, error)
	Policy Policy
	// Previous is the lock being replaced (harden lock) or checked
	// (harden lock --check). The publisher it records for a package is
	// expected of the package's files: trust on first use.
	Previous *lock.File
	// Release names the packages whose recorded publisher is not expected
	// (harden lock --upgrade-package).
	Release []string
	// Checking is set when Previous is the lock under check: files it
	// records as unattested that are now attested are reported as stale.
	Checking bool
	// CacheOnly is set when Source is the provenance cache alone and no
	// index stands behind it: a file the cache lacks is "not checked", a
	// warning unless upstream.require names its package.
	CacheOnly bool
	// Parallel bounds concurrent lookups; 0 means 8.
	Parallel int
}

// Violation is a file the policy refuses.
type Violation struct {
	Package  string `json:"package"`
	Version  string `json:"version"`
	File     string `json:"file"`
	Expected string `json:"expected,omitempty"` // publisher
	Found    string `json:"found,omitempty"`    // publisher, or "no attestation"
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

func (v Violation) String() string {
	s := fmt.Sprintf("%s %s (%s): %s", v.Package, v.Version, v.File, v.Message)
	if v.Expected != "" {
		s += "; expected " + v.Expected + ", found " + v.Found
	}
	return s + "; " + v.Fix
}

// PublisherPins are the pins one publisher attested.
type PublisherPins struct {
	Publisher lock.Publisher `json:"publisher"`
	Name      string         `json:"name"` // Publisher.String()
	Pins      []string       `json:"pins"` // "name version"
}

// Report is the outcome of Check: the coverage, what the policy refuses,
// and the records for the lock.
type Report struct {
	Pins     int `json:"pins"`
	Attested int `json:"attested"` // pins every file of which verified
	// Publishers, by name; Unattested and Unchecked list pins ("name
	// version") with a file the index offers no attestation for, or whose
	// provenance was not looked up.
	Publishers []PublisherPins `json:"publishers"`
	Unattested []string        `json:"unattested"`
	Unchecked  []string        `json:"unchecked"`
	Violations []Violation     `json:"violations,omitempty"`
	Warnings   []string        `json:"warnings,omitempty"`
	// Records are the provenance records of each pin, in the order of the
	// pins given to Check, sorted by filename; unchecked files have none.
	Records [][]lock.FileProvenance `json:"-"`
}

// Err is nil when the policy holds, else an errs.Check error naming every
// violation.
func (r *Report) Err() error {
	if len(r.Violations) == 0 {
		return nil
	}
	lines := make([]string, len(r.Violations))
	for i, v := range r.Violations {
		lines[i] = v.String()
	}
	return errs.Check(fmt.Errorf("upstream provenance: %s:\n  %s", wording.Count(len(lines), "violation"), strings.Join(lines, "\n  ")))
}

// outcome is what became of one file.
type outcome struct {
	state State
	rec   *lock.FileProvenance // verified or none; nil when unchecked
	pubs  []lock.Publisher     // verified publishers
	// malformed says why a provenance object was not PEP 740; the file
	// then counts as unattested.
	malformed string
	// broken says why an attestation failed to verify: always refused.
	broken string
	from   string
}

// Check looks up and verifies the provenance of every file of pins and
// applies the policy. An error means the check could not run (an
// unreachable index, an unusable trusted root); refusals are in
// Report.Violations.
func Check(ctx context.Context, pins []Pin, o Options) (*Report, error) {
	if o.Source == nil || o.Trust == nil {
		return nil, errors.New("upstream: no source or trusted root")
	}
	trust := sync.OnceValues(o.Trust)
	outs := make([][]outcome, len(pins))
	g, gctx := errgroup.WithContext(ctx)
	limit := o.Parallel
	if limit <= 0 {
		limit = 8
	}
	g.SetLimit(limit)
	for i, p := range pins {
		outs[i] = make([]outcome, len(p.Files))
		for j, f := range p.Files {
			g.Go(func() error {
				out, err := checkFile(gctx, o.Source, trust, p, f)
				if err != nil {
					return err
				}
				outs[i][j] = out
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	e := &evaluator{o: o, rep: &Report{Pins: len(pins), Publishers: []PublisherPins{}, Unattested: []string{}, Unchecked: []string{}}}
	e.expected = expectations(o)
	for i, p := range pins {
		e.pin(p, outs[i])
	}
	e.finish()
	return e.rep, nil
}

func checkFile(ctx context.Context, src Source, trust func() (root.TrustedMaterial, error), p Pin, f File) (outcome, error) {
	got, err := src.Provenance(ctx, p, f)
	if err != nil {
		return outcome{}, err
	}
	out := outcome{state: got.State, from: got.From}
	switch got.State {
	case Unchecked:
		return out, nil
	case None:
		out.rec = &lock.FileProvenance{Filename: f.Filename, SHA256: f.SHA256}
		return out, nil
	}
	prov, err := pep740.ParseBytes(got.Data)
	if err != nil {
		out.state, out.malformed = None, err.Error()
		out.rec = &lock.FileProvenance{Filename: f.Filename, SHA256: f.SHA256}
		return out, nil
	}
	tm, err := trust()
	if err != nil {
		return outcome{}, fmt.Errorf("the Sigstore trusted root, to verify the attestation of %s (from %s): %w", f.Filename, got.From, err)
	}
	res, err := pep740.Verify(ctx, prov, f.Filename, f.SHA256, tm, pep740.Options{})
	switch {
	case err != nil && errs.ExitCode(err) == errs.CodeCheckFailed && ctx.Err() == nil:
		out.broken = err.Error()
		return out, nil
	case err != nil:
		return outcome{}, err
	}
	first := res.Attestations[0]
	rec := &lock.FileProvenance{Filename: f.Filename, SHA256: f.SHA256, Attested: true, Publisher: lockPublisher(first.Publisher)}
	if len(first.LogEntries) > 0 {
		le := first.LogEntries[0]
		rec.LogIndex, rec.IntegratedTime = le.LogIndex, le.IntegratedTime.UTC().Truncate(time.Second)
	}
	if rec.IntegratedTime.IsZero() && len(first.Times) > 0 {
		rec.Timestamp = slices.MinFunc(first.Times, func(a, b time.Time) int { return a.Compare(b) }).UTC().Truncate(time.Second)
	}
	out.rec = rec
	for _, pub := range res.Publishers() {
		out.pubs = append(out.pubs, lockPublisher(pub))
	}
	return out, nil
}

func lockPublisher(p pep740.Publisher) lock.Publisher {
	return lock.Publisher{Kind: p.Kind, Repository: p.Repository, Workflow: p.Workflow, Environment: p.Environment, Email: p.Email}
}

// expectation is the publisher a package's files must be attested by.
type expectation struct {
	pub    lock.Publisher
	source string
	tofu   bool
}

// expectations are the pinned publishers: harden.yaml's, then the
// previous lock's for packages not released.
func expectations(o Options) map[string]expectation {
	out := map[string]expectation{}
	for k, pub := range o.Policy.Publishers {
		out[k] = expectation{pub: pub, source: "upstream.publishers." + k + " in " + o.Policy.Config}
	}
	if o.Previous == nil {
		return out
	}
	released := map[string]bool{}
	for _, n := range o.Release {
		released[lock.NormalizeName(n)] = true
	}
	lockName := "the lock"
	if o.Previous.Path != "" {
		lockName = o.Previous.Path
	}
	for _, r := range o.Previous.Requirements {
		if _, ok := out[r.Key]; ok || released[r.Key] {
			continue
		}
		for _, fp := range r.Provenance {
			if fp.Attested {
				out[r.Key] = expectation{pub: fp.Publisher, tofu: true,
					source: fmt.Sprintf("%s, which records %s %s as attested by it (trust on first use)", lockName, r.Name, r.Version)}
				break
			}
		}
	}
	return out
}

type evaluator struct {
	o          Options
	rep        *Report
	expected   map[string]expectation
	byPub      map[string]*PublisherPins
	unattested []string // "name version" of pins counted under missing: warn
	unchecked  []string // "name version" of pins not in the cache (CacheOnly)
}

func (e *evaluator) violate(p Pin, f File, msg, fix string, exp *expectation, found string) {
	v := Violation{Package: p.Name, Version: p.Version, File: f.Filename, Message: msg, Fix: fix}
	if exp != nil {
		v.Expected, v.Found = exp.pub.String()+" ("+exp.source+")", found
	}
	e.rep.Violations = append(e.rep.Violations, v)
}

func (e *evaluator) required(key string) bool {
	return e.o.Policy.RequireAll || e.o.Policy.Require[key]
}

func (e *evaluator) pin(p Pin, outs []outcome) {
	exp, pinned := e.expected[p.Key]
	var expp *expectation
	if pinned {
		expp = &exp
	}
	var recs []lock.FileProvenance
	attested, unattested, unchecked := 0, false, false
	pinPubs := []lock.Publisher{}
	for j, out := range outs {
		f := p.Files[j]
		if out.rec != nil && out.broken == "" {
			recs = append(recs, *out.rec)
		}
		switch {
		case out.broken != "":
			e.violate(p, f, "an attestation from "+out.from+" does not verify: "+out.broken,
				"do not use this file: the index serves an attestation for it that fails verification; report it to the index or the project", nil, "")
			unattested = true
		case out.state == Unchecked && e.o.CacheOnly:
			unchecked = true
			e.notCached(p, f)
		case out.state == Unchecked:
			unchecked = true
			if pinned || e.required(p.Key) {
				e.violate(p, f, "its provenance cannot be checked: it is not in the provenance cache and no index was asked (--offline or --wheel-dir)",
					"run harden lock against the index (without --offline and --wheel-dir) once to fetch and cache it", expp, "not checked")
			}
		case out.state == None:
			unattested = true
			what := "the index offers no attestation for it"
			if out.malformed != "" {
				what = "the provenance the index serves for it is not PEP 740 (" + out.malformed + ")"
				if !pinned && !e.required(p.Key) && !e.o.Policy.MissingFail {
					e.rep.Warnings = append(e.rep.Warnings, fmt.Sprintf("%s: the provenance the index serves for %s is not PEP 740 (%s); it counts as no attestation (from %s)", p, f.Filename, out.malformed, out.from))
				}
			}
			e.missing(p, f, expp, what)
		default:
			attested++
			for _, got := range out.pubs {
				if !slices.Contains(pinPubs, got) {
					pinPubs = append(pinPubs, got)
				}
			}
			if pinned {
				for _, got := range out.pubs {
					if !exp.pub.Matches(got) {
						e.violate(p, f, "attested by another publisher than the one pinned", e.changedFix(p, exp), expp, got.String())
						break
					}
				}
			}
			if e.o.Checking && e.o.Previous != nil {
				e.stale(p, *out.rec)
			}
		}
	}
	lock.SortProvenance(recs)
	e.rep.Records = append(e.rep.Records, recs)
	switch {
	case unchecked || len(outs) == 0:
		e.rep.Unchecked = append(e.rep.Unchecked, p.String())
	case unattested:
		e.rep.Unattested = append(e.rep.Unattested, p.String())
	default:
		e.rep.Attested++
		for _, pub := range pinPubs {
			e.count(pub, p)
		}
	}
}

// missing applies the policy to a file without an attestation.
func (e *evaluator) missing(p Pin, f File, exp *expectation, what string) {
	switch {
	case exp != nil && exp.tofu:
		e.violate(p, f, what+", though an earlier release was attested",
			fmt.Sprintf("review why the attestations stopped; to accept that, run harden lock --upgrade-package %s", p.Key), exp, "no attestation")
	case exp != nil:
		e.violate(p, f, what+", and its publisher is pinned",
			fmt.Sprintf("pin a release whose files are attested, or remove upstream.publishers.%s from %s", p.Key, e.o.Policy.Config), exp, "no attestation")
	case e.required(p.Key):
		rule := "upstream.require lists it"
		if e.o.Policy.RequireAll {
			rule = "upstream.require is all"
		}
		e.violate(p, f, what+", and "+rule,
			fmt.Sprintf("pin a release whose files are attested, or relax upstream.require in %s", e.o.Policy.Config), nil, "")
	case e.o.Policy.MissingFail:
		e.violate(p, f, what+", and upstream.missing is fail",
			fmt.Sprintf("pin a release whose files are attested, or set upstream.missing: warn in %s", e.o.Policy.Config), nil, "")
	default:
		if !slices.Contains(e.unattested, p.String()) {
			e.unattested = append(e.unattested, p.String())
		}
	}
}

// notCached applies the policy to a file the cache-only source lacks.
func (e *evaluator) notCached(p Pin, f File) {
	if !e.required(p.Key) {
		if !slices.Contains(e.unchecked, p.String()) {
			e.unchecked = append(e.unchecked, p.String())
		}
		return
	}
	rule := "upstream.require lists it"
	if e.o.Policy.RequireAll {
		rule = "upstream.require is all"
	}
	e.violate(p, f, "its provenance is not in the provenance cache, so it cannot be checked, and "+rule,
		"run harden lock --check against the index (without --offline and --wheel-dir) to fetch and cache it, then run this again", nil, "")
}

func (e *evaluator) changedFix(p Pin, exp expectation) string {
	if exp.tofu {
		return fmt.Sprintf("review why the publisher changed; to accept the new one, run harden lock --upgrade-package %s", p.Key)
	}
	return fmt.Sprintf("do not use this release unless the project moved its publishing; then update upstream.publishers.%s in %s", p.Key, e.o.Policy.Config)
}

// stale warns when the lock under check records a file as unattested that
// now verifies.
func (e *evaluator) stale(p Pin, rec lock.FileProvenance) {
	for _, r := range e.o.Previous.Requirements {
		if r.Key != p.Key {
			continue
		}
		if old, ok := r.ProvenanceOf(rec.SHA256); ok && !old.Attested {
			e.rep.Warnings = append(e.rep.Warnings, fmt.Sprintf("%s: %s is now attested by %s, which the lock does not record; run harden lock to record it", p, rec.Filename, rec.Publisher))
		}
	}
}

func (e *evaluator) count(pub lock.Publisher, p Pin) {
	if e.byPub == nil {
		e.byPub = map[string]*PublisherPins{}
	}
	name := pub.String()
	pp := e.byPub[name]
	if pp == nil {
		pp = &PublisherPins{Publisher: pub, Name: name}
		e.byPub[name] = pp
	}
	if !slices.Contains(pp.Pins, p.String()) {
		pp.Pins = append(pp.Pins, p.String())
	}
}

func (e *evaluator) finish() {
	names := make([]string, 0, len(e.byPub))
	for n := range e.byPub {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e.rep.Publishers = append(e.rep.Publishers, *e.byPub[n])
	}
	if len(e.unchecked) > 0 {
		e.rep.Warnings = append(e.rep.Warnings, fmt.Sprintf("upstream provenance not checked for %s: %s (not in the provenance cache; run harden lock --check against the index to fetch and cache it)",
			wording.Count(len(e.unchecked), "pin"), strings.Join(e.unchecked, ", ")))
	}
	if len(e.unattested) > 0 {
		e.rep.Warnings = append(e.rep.Warnings, fmt.Sprintf("no upstream attestation for %s: %s (upstream.missing: warn in %s; fail, or upstream.require, makes this an error)",
			wording.Count(len(e.unattested), "pin"), strings.Join(e.unattested, ", "), e.o.Policy.Config))
	}
}
