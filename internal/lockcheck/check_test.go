package lockcheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/harden-dev/harden/internal/baseimage"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fixture"
	"github.com/harden-dev/harden/internal/lock"
	"github.com/harden-dev/harden/internal/wheel"
	"github.com/harden-dev/harden/internal/wheel/wheeltest"
	"github.com/harden-dev/harden/internal/wheels"
)

// writeWheel writes a wheel whose METADATA carries the given extra header
// lines after Name and Version (or is headers itself when that starts with
// "Metadata-Version:"), and returns its sha256.
func writeWheel(t *testing.T, dir, filename, headers string) string {
	t.Helper()
	fn, err := wheel.ParseFilename(filename)
	if err != nil {
		t.Fatal(err)
	}
	md := fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s", fn.Name, fn.Version, headers)
	if strings.HasPrefix(headers, "Metadata-Version:") {
		md = headers
	}
	return writeFile(t, dir, filename, wheeltest.Bytes(t, filename, fn.Name, fn.Version,
		wheeltest.Member{Name: fn.Name + "/__init__.py"},
		wheeltest.Member{Name: fn.Name + "-" + fn.Version + ".dist-info/METADATA", Data: md}))
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func target(t *testing.T, platform, arch string) baseimage.Target {
	t.Helper()
	ts, err := baseimage.OfflineTargets([]string{platform}, "3.11.2", "2.36")
	if err != nil || ts[0].Wheel.Arch != arch {
		t.Fatalf("target %s: %v %+v, want arch %s", platform, err, ts, arch)
	}
	return ts[0]
}

// pin is one lock entry and the files whose hashes it lists.
type pin struct {
	req   string
	files []string
}

// scenario is a wheel directory, a lock over it and a requirements.in.
type scenario struct {
	wheels map[string]string // filename → extra METADATA headers
	other  map[string]string // non-wheel files (sdists) → content
	pins   []pin
	input  string
}

// consistent is a small, consistent project: app[plus] needs lib, "fast"
// on arm64 only (a wheel for aarch64 only) and, through its extra "plus",
// extra-dep, which needs lib[speed], whose extra pulls in speedups.
func consistent() scenario {
	return scenario{
		wheels: map[string]string{
			"app-1.0-py3-none-any.whl": "Requires-Python: >=3.8\nProvides-Extra: plus\n" +
				"Requires-Dist: lib>=1.0,<2\n" +
				"Requires-Dist: fast; platform_machine == \"aarch64\"\n" +
				"Requires-Dist: extra_dep (>=0.1) ; extra == 'plus'\n" +
				"Requires-Dist: pytest ; extra == 'test'\n",
			"lib-1.5-py3-none-any.whl":                              "Provides-Extra: speed\nRequires-Dist: speedups==3.*; extra == \"speed\"\n",
			"lib-2.0-py3-none-any.whl":                              "",
			"fast-2.0-cp311-cp311-manylinux_2_17_aarch64.whl":       "Requires-Python: >=3.7\n",
			"extra_dep-0.1-py3-none-any.whl":                        "Requires-Dist: lib[speed]\n",
			"speedups-3.1-py3-none-any.whl":                         "",
			"native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl":      "",
			"stray-1.0-py3-none-any.whl":                            "",
			"badmeta-1.0-py3-none-any.whl":                          "Requires-Dist: ok>=1\nRequires-Dist: broken (>=1.0; extra == 'x'\n",
			"futurepy-1.0-py3-none-any.whl":                         "Requires-Python: >=3.12\n",
			"aarch64only-1.0-cp311-abi3-manylinux_2_17_aarch64.whl": "",
		},
		other: map[string]string{"oldpkg-1.0.tar.gz": "not a wheel"},
		pins: []pin{
			{"app[plus]==1.0", []string{"app-1.0-py3-none-any.whl"}},
			{"extra-dep==0.1", []string{"extra_dep-0.1-py3-none-any.whl"}},
			{`fast==2.0 ; platform_machine == "aarch64"`, []string{"fast-2.0-cp311-cp311-manylinux_2_17_aarch64.whl"}},
			{"lib==1.5", []string{"lib-1.5-py3-none-any.whl"}},
			{"speedups==3.1", []string{"speedups-3.1-py3-none-any.whl"}},
		},
		input: "app[plus]>=1\n",
	}
}

func (s scenario) lockText(t *testing.T, sums map[string]string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range s.pins {
		b.WriteString(p.req)
		for _, f := range p.files {
			sum, ok := sums[f]
			if !ok {
				t.Fatalf("pin %s names unknown file %s", p.req, f)
			}
			b.WriteString(" \\\n    --hash=sha256:" + sum)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (s scenario) options(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	wheelDir := filepath.Join(dir, "wheels")
	if err := os.Mkdir(wheelDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for name, headers := range s.wheels {
		sums[name] = writeWheel(t, wheelDir, name, headers)
	}
	for name, content := range s.other {
		sums[name] = writeFile(t, wheelDir, name, []byte(content))
	}
	lf, err := lock.Parse(strings.NewReader(s.lockText(t, sums)), "requirements.lock")
	if err != nil {
		t.Fatal(err)
	}
	in, err := lock.ParseInput(strings.NewReader(s.input), "requirements.in")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := wheels.NewCache(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return Options{Lock: lf, Input: in, Source: wheels.NewDir(wheelDir), Cache: cache,
		Targets: []baseimage.Target{target(t, "linux/amd64", "x86_64"), target(t, "linux/arm64", "aarch64")}}
}

func (s scenario) check(t *testing.T) *Report {
	t.Helper()
	rep, err := Check(context.Background(), s.options(t))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (s *scenario) setPin(name string, p pin) {
	for i := range s.pins {
		if strings.HasPrefix(s.pins[i].req, name+"==") || strings.HasPrefix(s.pins[i].req, name+"[") {
			s.pins[i] = p
			return
		}
	}
	s.pins = append(s.pins, p)
}

func (s *scenario) dropPin(name string) {
	for i := range s.pins {
		if strings.HasPrefix(s.pins[i].req, name+"==") {
			s.pins = append(s.pins[:i], s.pins[i+1:]...)
			return
		}
	}
	panic("no pin " + name)
}

// problems flattens a report to "platform kind package: message; fix".
func problems(r *Report) []string {
	out := []string{}
	for _, t := range r.Targets {
		for _, p := range t.Problems {
			out = append(out, fmt.Sprintf("%s %s %s: %s", t.Platform, p.Kind, p.Package, p))
		}
	}
	for _, p := range r.Warnings {
		out = append(out, fmt.Sprintf("warning %s %s: %s", p.Kind, p.Package, p))
	}
	return out
}

func assertProblems(t *testing.T, r *Report, want ...string) {
	t.Helper()
	got := problems(r)
	if want == nil {
		want = []string{}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConsistent(t *testing.T) {
	rep := consistent().check(t)
	assertProblems(t, rep)
	if err := rep.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if rep.Targets[0].Pins != 4 || rep.Targets[1].Pins != 5 || rep.Targets[0].Python != "3.11.2" {
		t.Errorf("targets = %+v", rep.Targets)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	want := "linux/amd64 (Python 3.11.2): 4 pins consistent\nlinux/arm64 (Python 3.11.2): 5 pins consistent\n"
	if buf.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"lock":"requirements.lock","targets":[{"platform":"linux/amd64","python":"3.11.2","pins":4,"problems":[]},{"platform":"linux/arm64","python":"3.11.2","pins":5,"problems":[]}],"warnings":[]}`
	if string(b) != wantJSON {
		t.Errorf("json:\n%s\nwant:\n%s", b, wantJSON)
	}
}

func TestMissingTransitivePin(t *testing.T) {
	s := consistent()
	s.dropPin("lib")
	rep := s.check(t)
	assertProblems(t, rep,
		"linux/amd64 unpinned lib: app 1.0 requires lib>=1.0,<2 but the lock pins no lib for linux/amd64; run harden lock",
		"linux/amd64 unpinned lib: extra-dep 0.1 requires lib[speed] but the lock pins no lib for linux/amd64; run harden lock",
		"linux/arm64 unpinned lib: app 1.0 requires lib>=1.0,<2 but the lock pins no lib for linux/arm64; run harden lock",
		"linux/arm64 unpinned lib: extra-dep 0.1 requires lib[speed] but the lock pins no lib for linux/arm64; run harden lock",
		// lib's extra "speed" is what required speedups, and lib is gone.
		"warning unused speedups: speedups 3.1 is pinned but nothing requires it: it is not in requirements.in and no pin depends on it on any target; run harden lock to drop it, or add it to requirements.in if the image needs it",
	)
	err := rep.Err()
	if errs.ExitCode(err) != errs.CodeCheckFailed {
		t.Fatalf("Err() = %v, want a check failure", err)
	}
	want := "requirements.lock is inconsistent (4 problem(s)):\n" +
		"  linux/amd64: app 1.0 requires lib>=1.0,<2 but the lock pins no lib for linux/amd64; run harden lock\n" +
		"  linux/amd64: extra-dep 0.1 requires lib[speed] but the lock pins no lib for linux/amd64; run harden lock\n" +
		"  linux/arm64: app 1.0 requires lib>=1.0,<2 but the lock pins no lib for linux/arm64; run harden lock\n" +
		"  linux/arm64: extra-dep 0.1 requires lib[speed] but the lock pins no lib for linux/arm64; run harden lock"
	if err.Error() != want {
		t.Errorf("Err():\n%s\nwant:\n%s", err, want)
	}
}

func TestWrongVersion(t *testing.T) {
	s := consistent()
	s.setPin("lib", pin{"lib==2.0", []string{"lib-2.0-py3-none-any.whl"}})
	rep := s.check(t)
	// lib 2.0 has no extra "speed": speedups is then required by nothing.
	assertProblems(t, rep,
		"linux/amd64 version lib: app 1.0 requires lib>=1.0,<2 but the lock pins lib 2.0; run harden lock --upgrade-package lib",
		"linux/arm64 version lib: app 1.0 requires lib>=1.0,<2 but the lock pins lib 2.0; run harden lock --upgrade-package lib",
		"warning unused speedups: speedups 3.1 is pinned but nothing requires it: it is not in requirements.in and no pin depends on it on any target; run harden lock to drop it, or add it to requirements.in if the image needs it",
	)
}

func TestTopLevel(t *testing.T) {
	s := consistent()
	s.input = "app[plus]>=2\nmissing ; platform_machine == \"x86_64\"\n"
	rep := s.check(t)
	assertProblems(t, rep,
		"linux/amd64 version app: requirements.in line 1 asks for app[plus]>=2 but the lock pins app 1.0; run harden lock --upgrade-package app",
		"linux/amd64 unpinned missing: requirements.in line 2 asks for missing but the lock pins no missing for linux/amd64; run harden lock",
		"linux/arm64 version app: requirements.in line 1 asks for app[plus]>=2 but the lock pins app 1.0; run harden lock --upgrade-package app",
	)
}

func TestMissingHash(t *testing.T) {
	o := consistent().options(t)
	// The parser refuses such a lock; a lock built in code can still lack one.
	for i := range o.Lock.Requirements {
		if r := &o.Lock.Requirements[i]; r.Key == "speedups" {
			r.Hashes, r.OtherHashes = nil, []string{"sha512:" + strings.Repeat("ab", 64)}
		}
	}
	rep, err := Check(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	only := "(only sha512:" + strings.Repeat("ab", 64) + ")"
	assertProblems(t, rep,
		"linux/amd64 hash speedups: speedups 3.1 has no sha256 hash "+only+"; run harden lock (it writes --hash=sha256:... for every file)",
		"linux/arm64 hash speedups: speedups 3.1 has no sha256 hash "+only+"; run harden lock (it writes --hash=sha256:... for every file)",
	)
}

func TestNoWheelForTarget(t *testing.T) {
	s := consistent()
	s.pins = append(s.pins,
		pin{"native==1.0", []string{"native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"}},
		pin{"oldpkg==1.0", []string{"oldpkg-1.0.tar.gz"}},
		pin{"aarch64only==1.0", []string{"aarch64only-1.0-cp311-abi3-manylinux_2_17_aarch64.whl"}})
	s.input += "native\noldpkg\naarch64only\n"
	// An aarch64 wheel of native exists, but the lock does not list its
	// hash: it must not be used.
	s.wheels["native-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"] = ""
	rep := s.check(t)
	got := problems(rep)
	want := []string{
		"linux/amd64 wheel aarch64only: requirements.lock:15: aarch64only==1.0 has no wheel for linux/amd64 (cp311, glibc 2.36, x86_64); locked wheels: aarch64only-1.0-cp311-abi3-manylinux_2_17_aarch64.whl; add a matching wheel hash to the lock or drop linux/amd64 from platforms; run harden lock --upgrade-package aarch64only",
		"linux/amd64 wheel oldpkg: requirements.lock:13: oldpkg==1.0 is locked only to an sdist (oldpkg-1.0.tar.gz); harden installs wheels only: lock a wheel of it or build one and publish it to your index; run harden lock --upgrade-package oldpkg",
		"linux/arm64 wheel native: requirements.lock:11: native==1.0 has no wheel for linux/arm64 (cp311, glibc 2.36, aarch64); locked wheels: native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl; add a matching wheel hash to the lock or drop linux/arm64 from platforms; run harden lock --upgrade-package native",
		"linux/arm64 wheel oldpkg: requirements.lock:13: oldpkg==1.0 is locked only to an sdist (oldpkg-1.0.tar.gz); harden installs wheels only: lock a wheel of it or build one and publish it to your index; run harden lock --upgrade-package oldpkg",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings with unread wheels must be empty (they would be guesses), got %v", rep.Warnings)
	}
}

func TestMarkerDependentRequirement(t *testing.T) {
	s := consistent()
	s.dropPin("fast")
	rep := s.check(t)
	assertProblems(t, rep,
		"linux/arm64 unpinned fast: app 1.0 requires fast but the lock pins no fast for linux/arm64; run harden lock")
}

func TestExtras(t *testing.T) {
	t.Run("requested extra unpinned", func(t *testing.T) {
		s := consistent()
		s.dropPin("extra-dep")
		rep := s.check(t)
		assertProblems(t, rep,
			"linux/amd64 unpinned extra-dep: app[plus] 1.0 requires extra_dep>=0.1 but the lock pins no extra_dep for linux/amd64; run harden lock",
			"linux/arm64 unpinned extra-dep: app[plus] 1.0 requires extra_dep>=0.1 but the lock pins no extra_dep for linux/arm64; run harden lock",
			"warning unused speedups: speedups 3.1 is pinned but nothing requires it: it is not in requirements.in and no pin depends on it on any target; run harden lock to drop it, or add it to requirements.in if the image needs it",
		)
	})
	t.Run("extra of an extra's dependency", func(t *testing.T) {
		s := consistent()
		s.dropPin("speedups")
		rep := s.check(t)
		assertProblems(t, rep,
			"linux/amd64 unpinned speedups: lib[speed] 1.5 requires speedups==3.* but the lock pins no speedups for linux/amd64; run harden lock",
			"linux/arm64 unpinned speedups: lib[speed] 1.5 requires speedups==3.* but the lock pins no speedups for linux/arm64; run harden lock",
		)
	})
	t.Run("extra not requested", func(t *testing.T) {
		s := consistent()
		s.setPin("app", pin{"app==1.0", []string{"app-1.0-py3-none-any.whl"}})
		s.input = "app\n"
		rep := s.check(t)
		// speedups stays required: lib[speed] asks for it through the
		// still pinned extra-dep, so only extra-dep itself is unused.
		assertProblems(t, rep,
			"warning unused extra-dep: extra-dep 0.1 is pinned but nothing requires it: it is not in requirements.in and no pin depends on it on any target; run harden lock to drop it, or add it to requirements.in if the image needs it")
	})
}

func TestRequiresPython(t *testing.T) {
	s := consistent()
	s.pins = append(s.pins, pin{"futurepy==1.0", []string{"futurepy-1.0-py3-none-any.whl"}})
	s.input += "futurepy\n"
	rep := s.check(t)
	assertProblems(t, rep,
		"linux/amd64 requires-python futurepy: futurepy 1.0 requires Python >=3.12 but linux/amd64 has Python 3.11.2; run harden lock --upgrade-package futurepy to a version that supports Python 3.11.2",
		"linux/arm64 requires-python futurepy: futurepy 1.0 requires Python >=3.12 but linux/arm64 has Python 3.11.2; run harden lock --upgrade-package futurepy to a version that supports Python 3.11.2",
	)
}

func TestUnusedPin(t *testing.T) {
	s := consistent()
	s.pins = append(s.pins, pin{"stray==1.0", []string{"stray-1.0-py3-none-any.whl"}})
	rep := s.check(t)
	assertProblems(t, rep,
		"warning unused stray: stray 1.0 is pinned but nothing requires it: it is not in requirements.in and no pin depends on it on any target; run harden lock to drop it, or add it to requirements.in if the image needs it")
	if err := rep.Err(); err != nil {
		t.Errorf("a warning must not fail the check: %v", err)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	want := "linux/amd64 (Python 3.11.2): 5 pins consistent\nlinux/arm64 (Python 3.11.2): 6 pins consistent\n" +
		"warning: stray 1.0 is pinned but nothing requires it: it is not in requirements.in and no pin depends on it on any target\n" +
		"    fix: run harden lock to drop it, or add it to requirements.in if the image needs it\n"
	if buf.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestUnparseableRequiresDist(t *testing.T) {
	s := consistent()
	s.pins = append(s.pins, pin{"badmeta==1.0", []string{"badmeta-1.0-py3-none-any.whl"}})
	s.input += "badmeta\n"
	rep := s.check(t)
	msg := `badmeta 1.0: wheel badmeta-1.0-py3-none-any.whl has an unparseable Requires-Dist "broken (>=1.0; extra == 'x'": malformed version specifier "(>=1.0" in "broken (>=1.0; extra == 'x'"; run harden lock --upgrade-package badmeta to a version with valid metadata`
	assertProblems(t, rep, "linux/amd64 metadata badmeta: "+msg, "linux/arm64 metadata badmeta: "+msg)
	var buf bytes.Buffer
	rep.WriteText(&buf)
	if !strings.Contains(buf.String(), "linux/amd64 (Python 3.11.2): 5 pins, 1 problem(s)\n  badmeta: badmeta 1.0: wheel badmeta-1.0-py3-none-any.whl") {
		t.Errorf("text:\n%s", buf.String())
	}
}

func TestMislabelledWheel(t *testing.T) {
	s := consistent()
	s.wheels["lib-1.5-py3-none-any.whl"] = "Metadata-Version: 2.1\nName: lib\nVersion: 1.6\n"
	rep := s.check(t)
	msg := `lib 1.5: wheel lib-1.5-py3-none-any.whl declares Name "lib", Version "1.6" in its METADATA; do not install a mislabelled wheel: publish a correct one, then run harden lock --upgrade-package lib`
	assertProblems(t, rep, "linux/amd64 metadata lib: "+msg, "linux/arm64 metadata lib: "+msg)
}

func TestBadOptions(t *testing.T) {
	o := consistent().options(t)
	o.Targets = nil
	if _, err := Check(context.Background(), o); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("no targets: err = %v, want an input error", err)
	}
	o = consistent().options(t)
	o.Source = wheels.NewDir(filepath.Join(t.TempDir(), "absent"))
	if _, err := Check(context.Background(), o); errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "read wheel dir") {
		t.Errorf("missing wheel dir: err = %v, want an input error about the wheel dir", err)
	}
}

// TestFixtures checks the real fixture lock: pgcli 3.5.0 and its
// dependencies, repacked from Debian bookworm, on CPython 3.11.2.
func TestFixtures(t *testing.T) {
	root := fixture.Load(t).Dir
	lf, err := lock.ParseFile(filepath.Join(root, "requirements.lock"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := lock.ParseInputFile(filepath.Join(root, "requirements.in"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := wheels.NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), Options{Lock: lf, Input: in, Source: wheels.NewDir(filepath.Join(root, "wheels")), Cache: cache,
		Targets: []baseimage.Target{target(t, "linux/amd64", "x86_64")}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	t.Logf("fixture lock:\n%s", buf.String())
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if rep.Targets[0].Pins != len(lf.Requirements) {
		t.Errorf("checked %d pins, the lock has %d", rep.Targets[0].Pins, len(lf.Requirements))
	}
}

// TestIndexSource runs the check over a PEP 691 index: each project page
// is fetched once for both targets, each wheel downloaded once.
func TestIndexSource(t *testing.T) {
	s := consistent()
	o := s.options(t)
	dir := strings.TrimPrefix(o.Source.String(), "wheel dir ")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	hits := map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("/simple/{project}/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		type file struct {
			Filename string            `json:"filename"`
			URL      string            `json:"url"`
			Hashes   map[string]string `json:"hashes"`
		}
		page := struct {
			Files []file `json:"files"`
		}{Files: []file{}}
		for _, e := range ents {
			fn, err := wheel.ParseFilename(e.Name())
			if err != nil || wheel.NormalizeName(fn.Name) != r.PathValue("project") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Error(err)
				return
			}
			sum := sha256.Sum256(b)
			page.Files = append(page.Files, file{e.Name(), "../../files/" + e.Name(), map[string]string{"sha256": hex.EncodeToString(sum[:])}})
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		json.NewEncoder(w).Encode(page)
	})
	mux.HandleFunc("/files/{name}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.PathValue("name"))))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ix, err := wheels.NewIndex(srv.URL+"/simple/", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	o.Source = ix
	rep, err := Check(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	assertProblems(t, rep)
	want := map[string]int{
		"/simple/app/": 1, "/simple/extra-dep/": 1, "/simple/fast/": 1, "/simple/lib/": 1, "/simple/speedups/": 1,
		"/files/app-1.0-py3-none-any.whl": 1, "/files/extra_dep-0.1-py3-none-any.whl": 1,
		"/files/fast-2.0-cp311-cp311-manylinux_2_17_aarch64.whl": 1, "/files/lib-1.5-py3-none-any.whl": 1,
		"/files/speedups-3.1-py3-none-any.whl": 1,
	}
	if fmt.Sprint(hits) != fmt.Sprint(want) {
		t.Errorf("requests:\n%v\nwant:\n%v", hits, want)
	}

	// An index that fails is an error of the check, not a lock problem.
	srv.Close()
	o.Cache, _ = wheels.NewCache(t.TempDir())
	if _, err := Check(context.Background(), o); errs.ExitCode(err) != errs.CodeUnreachable {
		t.Errorf("closed index: err = %v, want exit %d", err, errs.CodeUnreachable)
	}
}

func TestOverlappingMarkers(t *testing.T) {
	s := consistent()
	s.setPin("lib", pin{`lib==1.5 ; python_version >= "3.8"`, []string{"lib-1.5-py3-none-any.whl"}})
	s.pins = append(s.pins, pin{`lib==2.0 ; python_version >= "3.10"`, []string{"lib-2.0-py3-none-any.whl"}})
	rep := s.check(t)
	assertProblems(t, rep,
		"linux/amd64 marker lib: lib is pinned twice for linux/amd64 (lines 7 and 11): their markers overlap; run harden lock",
		"linux/arm64 marker lib: lib is pinned twice for linux/arm64 (lines 7 and 11): their markers overlap; run harden lock",
	)
}
