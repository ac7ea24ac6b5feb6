package citemplates

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/examples"
)

// The files under test, relative to the repository root.
const (
	workflowPath   = "examples/github/release.yml"
	gitlabPath     = "examples/gitlab-ci.yml"
	actionPath     = "action.yml"
	installPath    = "scripts/install.sh"
	dependabotPath = ".github/dependabot.yml"
)

// installSHA256 is the SHA-256 of scripts/install.sh, which the templates
// must pin.
func installSHA256(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256(readRepoFile(t, installPath))
	return hex.EncodeToString(sum[:])
}

// repoRoot walks up from the test's working directory to the directory that
// holds go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// script is one shell script of a template with the environment variables
// its CI system sets around it.
type script struct {
	where string
	text  string
	env   map[string]string
}

// ---------------------------------------------------------------------------
// Checks shared by both templates.

var (
	goInstallHarden = regexp.MustCompile(`go install\s+"?github\.com/harden-dev/harden/cmd/harden@`)
	installRun      = regexp.MustCompile(`install\.sh"?\s+--version[ =]"?(\$\{?\w+\}?|[^\s"]+)"?`)
	installURL      = regexp.MustCompile(`https://raw\.githubusercontent\.com/harden-dev/harden/(\$\{?\w+\}?|[^/\s"]+)/scripts/install\.sh`)
	// echo "${SUM}  path" | sha256sum -c -
	sumCheck = regexp.MustCompile(`echo\s+"\$\{?(\w+)\}?\s+([^"]+)"\s*\|\s*sha256sum\s+-c`)
	// A release tag (or an immutable pseudo-version), never a branch or latest.
	pinnedVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)
	varRef        = regexp.MustCompile(`^\$\{?(\w+)\}?$`)
	hex64         = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// resolve follows $VAR and ${VAR} through env; ok is false when nothing
// sets the variable.
func resolve(v string, env map[string]string) (string, bool) {
	r := varRef.FindStringSubmatch(v)
	if r == nil {
		return v, true
	}
	val, ok := env[r[1]]
	return val, ok
}

// sumChecks maps each path that a script checks with sha256sum -c to the
// resolved digest it is checked against, and the offset of the check.
func sumChecks(s script) map[string]struct {
	sum string
	at  int
} {
	out := map[string]struct {
		sum string
		at  int
	}{}
	for _, m := range sumCheck.FindAllStringSubmatchIndex(s.text, -1) {
		name, path := s.text[m[2]:m[3]], strings.TrimSpace(s.text[m[4]:m[5]])
		out[path] = struct {
			sum string
			at  int
		}{s.env[name], m[0]}
	}
	return out
}

// checkHardenInstall wants harden installed through scripts/install.sh: at
// a pinned release, downloaded from that release's tag and checked against
// the SHA-256 of this repository's scripts/install.sh before it runs. A
// step using harden's own action (pinned by SHA, checked by checkUses) with
// a pinned version counts too. go install is refused: it builds from source
// in every job, and nothing checks who released it.
func checkHardenInstall(scripts []script, actionVersions []string, wantSHA string) []string {
	var problems []string
	found := len(actionVersions)
	for _, v := range actionVersions {
		if !pinnedVersion.MatchString(v) {
			problems = append(problems, fmt.Sprintf("harden's action installs version %q; pin a release such as v1.2.3", v))
		}
	}
	for _, s := range scripts {
		if goInstallHarden.MatchString(s.text) {
			problems = append(problems, fmt.Sprintf("%s: harden is built with go install; install the signed release with scripts/install.sh", s.where))
		}
		run := installRun.FindStringSubmatchIndex(s.text)
		if run == nil {
			continue
		}
		found++
		v, ok := resolve(s.text[run[2]:run[3]], s.env)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: install.sh --version %s, which nothing sets", s.where, s.text[run[2]:run[3]]))
			continue
		}
		if !pinnedVersion.MatchString(v) {
			problems = append(problems, fmt.Sprintf("%s: harden is installed at %q; pin a release such as v1.2.3, not latest or a branch", s.where, v))
		}
		u := installURL.FindStringSubmatch(s.text)
		if u == nil {
			problems = append(problems, fmt.Sprintf("%s: install.sh does not come from harden's repository at the release tag", s.where))
			continue
		}
		if uv, _ := resolve(u[1], s.env); uv != v {
			problems = append(problems, fmt.Sprintf("%s: install.sh comes from %q but installs %q", s.where, uv, v))
		}
		checked := false
		for path, c := range sumChecks(s) {
			if !strings.HasSuffix(path, "install.sh") || c.at > run[0] {
				continue
			}
			checked = true
			if c.sum != wantSHA {
				problems = append(problems, fmt.Sprintf("%s: install.sh is checked against sha256 %q, but %s has %s; update the pin", s.where, c.sum, installPath, wantSHA))
			}
		}
		if !checked {
			problems = append(problems, fmt.Sprintf("%s: install.sh runs without a sha256sum -c of it first", s.where))
		}
	}
	if found == 0 {
		problems = append(problems, "nothing installs harden with scripts/install.sh --version VERSION (or harden's action)")
	}
	return problems
}

// ---------------------------------------------------------------------------
// GitHub Actions workflow.

type ghWorkflow struct {
	On          yaml.Node         `yaml:"on"`
	Permissions yaml.Node         `yaml:"permissions"` // Kind 0 when absent
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]ghJob  `yaml:"jobs"`
	root        *yaml.Node
	installSHA  string // what scripts/install.sh must be pinned at
}

type ghJob struct {
	Permissions    yaml.Node         `yaml:"permissions"`
	Env            map[string]string `yaml:"env"`
	Needs          any               `yaml:"needs"`
	Uses           string            `yaml:"uses"`
	TimeoutMinutes *int              `yaml:"timeout-minutes"`
	Steps          []ghStep          `yaml:"steps"`
}

type ghStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
	With map[string]any    `yaml:"with"`
}

func parseWorkflow(data []byte) (*ghWorkflow, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	w := &ghWorkflow{root: &root}
	if err := root.Decode(w); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *ghWorkflow) jobNames() []string { return slices.Sorted(maps.Keys(w.Jobs)) }

// scripts returns every run: with the env: of workflow, job and step merged
// the way the runner merges them.
func (w *ghWorkflow) scripts() []script {
	var out []script
	for _, jn := range w.jobNames() {
		j := w.Jobs[jn]
		for i, s := range j.Steps {
			if s.Run == "" {
				continue
			}
			env := map[string]string{}
			maps.Copy(env, w.Env)
			maps.Copy(env, j.Env)
			maps.Copy(env, s.Env)
			out = append(out, script{where: fmt.Sprintf("job %s step %d", jn, i+1), text: s.Run, env: env})
		}
	}
	return out
}

// jobScripts is scripts() for one job.
func (w *ghWorkflow) jobScripts(jn string) []script {
	var out []script
	for _, s := range w.scripts() {
		if strings.HasPrefix(s.where, "job "+jn+" step ") {
			out = append(out, s)
		}
	}
	return out
}

// actionVersions lists the version inputs of steps that use harden's own
// action.
func (w *ghWorkflow) actionVersions() []string {
	var out []string
	for _, jn := range w.jobNames() {
		for _, s := range w.Jobs[jn].Steps {
			if strings.HasPrefix(s.Uses, "harden-dev/harden@") {
				out = append(out, fmt.Sprint(s.With["version"]))
			}
		}
	}
	return out
}

// usesRef is one uses: value with its trailing comment.
type usesRef struct {
	value, comment string
	line           int
}

// collectUses finds every uses: key anywhere in the document (steps and
// reusable-workflow jobs alike), keeping the line comment that names the
// version.
func collectUses(n *yaml.Node) []usesRef {
	if n == nil {
		return nil
	}
	var out []usesRef
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "uses" && v.Kind == yaml.ScalarNode {
				out = append(out, usesRef{value: v.Value, comment: v.LineComment, line: v.Line})
				continue
			}
			out = append(out, collectUses(v)...)
		}
		return out
	}
	for _, c := range n.Content {
		out = append(out, collectUses(c)...)
	}
	return out
}

var (
	pinnedUses     = regexp.MustCompile(`^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$`)
	versionComment = regexp.MustCompile(`^#\s*v\d+\.\d+\.\d+$`)
	// The template keeps to these; every further action is more code that
	// runs with a job's tokens in reach.
	allowedActions = []string{"actions/checkout", "actions/upload-artifact", "actions/download-artifact",
		"sigstore/cosign-installer", "harden-dev/harden"}
	wantJobPerms = map[string]string{"id-token": "write", "packages": "write", "contents": "read"}
	// A job that commits what --pin rewrote and opens a pull request: it
	// holds no OIDC token, so it cannot sign.
	pinJobPerms = map[string]string{"contents": "write", "pull-requests": "write"}
)

// checkTopPermissions wants `permissions: {}` at the top level, so that a job
// without its own block gets nothing.
func checkTopPermissions(w *ghWorkflow) []string {
	p := w.Permissions
	switch {
	case p.Kind == 0:
		return []string{"no top-level permissions: block; the repository default applies (often write-all)"}
	case p.Kind != yaml.MappingNode:
		return []string{fmt.Sprintf("top-level permissions: %q; want {}", p.Value)}
	case len(p.Content) != 0:
		return []string{fmt.Sprintf("top-level permissions grant %d scope(s); want {} and grants per job", len(p.Content)/2)}
	}
	return nil
}

// checkJobPermissions wants the release job to ask for exactly the scopes a
// release needs (the OIDC token, the package push and a read of the
// sources), any other signing job for no more, and a job that writes to the
// repository (the pin job) for exactly pinJobPerms and no OIDC token.
func checkJobPermissions(w *ghWorkflow) []string {
	if len(w.Jobs) == 0 {
		return []string{"no jobs"}
	}
	var problems []string
	for _, jn := range w.jobNames() {
		p := w.Jobs[jn].Permissions
		if p.Kind == 0 {
			problems = append(problems, fmt.Sprintf("job %s: no permissions: block", jn))
			continue
		}
		if p.Kind != yaml.MappingNode {
			problems = append(problems, fmt.Sprintf("job %s: permissions %q; list each scope", jn, p.Value))
			continue
		}
		var got map[string]string
		if err := p.Decode(&got); err != nil {
			problems = append(problems, fmt.Sprintf("job %s: permissions: %v", jn, err))
			continue
		}
		// The release job needs exactly these; any other signing job (the
		// optional VSA job) no more than they give.
		if jn == "release" && !maps.Equal(got, wantJobPerms) {
			problems = append(problems, fmt.Sprintf("job %s: permissions %v; want exactly %v", jn, got, wantJobPerms))
		}
		allowed := wantJobPerms
		if got["contents"] == "write" {
			allowed = pinJobPerms
			if !maps.Equal(got, pinJobPerms) {
				problems = append(problems, fmt.Sprintf("job %s writes to the repository with permissions %v; want exactly %v (and never id-token)", jn, got, pinJobPerms))
				continue
			}
		}
		for k, v := range got {
			if allowed[k] != v {
				problems = append(problems, fmt.Sprintf("job %s: permission %s: %s; allowed: %v", jn, k, v, allowed))
			}
		}
	}
	return problems
}

// checkUses wants every action under root pinned by full commit SHA with a
// trailing "# vX.Y.Z" comment that names the release.
func checkUses(root *yaml.Node) []string {
	var problems []string
	for _, u := range collectUses(root) {
		if !pinnedUses.MatchString(u.value) {
			problems = append(problems, fmt.Sprintf("line %d: uses %q is not pinned to a full 40-hex commit SHA", u.line, u.value))
			continue
		}
		if !versionComment.MatchString(strings.TrimSpace(u.comment)) {
			problems = append(problems, fmt.Sprintf("line %d: uses %q needs a trailing comment naming its release (# vX.Y.Z), got %q", u.line, u.value, u.comment))
		}
	}
	return problems
}

// checkAllowedActions keeps the template to the few actions it needs.
func checkAllowedActions(w *ghWorkflow) []string {
	var problems []string
	for _, u := range collectUses(w.root) {
		name, _, _ := strings.Cut(u.value, "@")
		if !slices.Contains(allowedActions, name) {
			problems = append(problems, fmt.Sprintf("line %d: %s is not one of %v", u.line, name, allowedActions))
		}
	}
	return problems
}

// checkRunExpressions rejects ${{ }} inside run: scripts. Context such as
// github.head_ref, github.ref_name or github.event.* is attacker-controlled
// and is expanded into the script text before the shell parses it; values go
// through env: instead, where the shell sees them as data.
func checkRunExpressions(w *ghWorkflow) []string {
	expr := regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	var problems []string
	for _, s := range w.scripts() {
		for _, m := range expr.FindAllString(s.text, -1) {
			problems = append(problems, fmt.Sprintf("%s: run: interpolates %s; pass it through env: instead", s.where, m))
		}
	}
	return problems
}

// checkCheckout wants persist-credentials: false on every checkout, so that
// the token is not left in .git/config for later steps to read.
func checkCheckout(w *ghWorkflow) []string {
	var problems []string
	for _, jn := range w.jobNames() {
		for i, s := range w.Jobs[jn].Steps {
			if !strings.HasPrefix(s.Uses, "actions/checkout@") {
				continue
			}
			v, ok := s.With["persist-credentials"]
			if !ok || (v != false && v != "false") {
				problems = append(problems, fmt.Sprintf("job %s step %d: checkout without persist-credentials: false", jn, i+1))
			}
		}
	}
	return problems
}

// checkTimeouts wants a timeout-minutes on every job that runs steps.
func checkTimeouts(w *ghWorkflow) []string {
	var problems []string
	for _, jn := range w.jobNames() {
		j := w.Jobs[jn]
		if j.Uses != "" {
			continue
		}
		if j.TimeoutMinutes == nil || *j.TimeoutMinutes <= 0 {
			problems = append(problems, fmt.Sprintf("job %s: no timeout-minutes", jn))
		}
	}
	return problems
}

var verifyWorkflowFlag = regexp.MustCompile(`--github-workflow[ =]"?([^\s"\\]+)`)

// checkVerifyIdentity wants a harden verify that expects the signature of
// this very workflow file.
func checkVerifyIdentity(w *ghWorkflow) []string {
	for _, s := range w.scripts() {
		_, after, ok := strings.Cut(s.text, "harden verify")
		if !ok {
			continue
		}
		m := verifyWorkflowFlag.FindStringSubmatch(after)
		if m == nil {
			return []string{fmt.Sprintf("%s: harden verify without --github-workflow", s.where)}
		}
		if m[1] != examples.GitHubWorkflowPath {
			return []string{fmt.Sprintf("%s: harden verify expects workflow %s, but this file is installed as %s", s.where, m[1], examples.GitHubWorkflowPath)}
		}
		return nil
	}
	return []string{"no step runs harden verify"}
}

// checkTrigger wants the workflow to run on pushed tags only: never on pull
// requests or branches, whose code must not sign releases.
func checkTrigger(w *ghWorkflow) []string {
	var on struct {
		Push *struct {
			Tags     []string `yaml:"tags"`
			Branches []string `yaml:"branches"`
		} `yaml:"push"`
	}
	if w.On.Kind != yaml.MappingNode {
		return []string{fmt.Sprintf("on: %q; want push: tags: [...] only", w.On.Value)}
	}
	if err := w.On.Decode(&on); err != nil {
		return []string{fmt.Sprintf("on: %v", err)}
	}
	var problems []string
	for i := 0; i+1 < len(w.On.Content); i += 2 {
		if ev := w.On.Content[i].Value; ev != "push" {
			problems = append(problems, fmt.Sprintf("on: %s; a release runs on pushed tags only", ev))
		}
	}
	switch {
	case on.Push == nil || len(on.Push.Tags) == 0:
		problems = append(problems, "on: push: without tags:")
	case len(on.Push.Branches) > 0:
		problems = append(problems, fmt.Sprintf("on: push: branches %v; a release runs on pushed tags only", on.Push.Branches))
	}
	return problems
}

// checkCosignFirst wants every job that installs harden to install cosign,
// which verifies it, in an earlier step.
func checkCosignFirst(w *ghWorkflow) []string {
	var problems []string
	for _, jn := range w.jobNames() {
		cosign := false
		for i, s := range w.Jobs[jn].Steps {
			if strings.HasPrefix(s.Uses, "sigstore/cosign-installer@") {
				cosign = true
			}
			if installRun.MatchString(s.Run) && !cosign {
				problems = append(problems, fmt.Sprintf("job %s step %d: install.sh runs before sigstore/cosign-installer", jn, i+1))
			}
		}
	}
	return problems
}

// needs lists a job's needs: (a string or a list).
func (j ghJob) needs() []string { return strs(j.Needs) }

// releaseCmd finds a harden release command (not a mention in a message).
var releaseCmd = regexp.MustCompile(`(?m)^\s*harden release\b`)

// checkReleaseFlags wants harden release with --version-tag, and, when it
// runs with --pin, a job that needs it and proposes the change.
func checkReleaseFlags(w *ghWorkflow) []string {
	var problems []string
	released := false
	for _, jn := range w.jobNames() {
		for _, s := range w.jobScripts(jn) {
			if !releaseCmd.MatchString(s.text) {
				continue
			}
			released = true
			if !strings.Contains(s.text, "--version-tag") {
				problems = append(problems, fmt.Sprintf("%s: harden release without --version-tag", s.where))
			}
			if !strings.Contains(s.text, "--pin ") {
				continue
			}
			proposed := false
			for _, pj := range w.jobNames() {
				if !slices.Contains(w.Jobs[pj].needs(), jn) {
					continue
				}
				for _, ps := range w.jobScripts(pj) {
					if strings.Contains(ps.text, "git push") && strings.Contains(ps.text, "gh pr create") {
						proposed = true
					}
				}
			}
			if !proposed {
				problems = append(problems, fmt.Sprintf("%s: harden release --pin rewrites files, but no job that needs %s pushes them and opens a pull request", s.where, jn))
			}
		}
	}
	if !released {
		problems = append(problems, "no step runs harden release")
	}
	return problems
}

// check is one named rule over a parsed template.
type check[T any] struct {
	name string
	fn   func(T) []string
}

// runChecks parses data and returns each failing check's problems.
func runChecks[T any](t *testing.T, data []byte, parse func([]byte) (T, error), checks []check[T]) map[string][]string {
	t.Helper()
	doc, err := parse(data)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out := map[string][]string{}
	for _, c := range checks {
		if p := c.fn(doc); len(p) > 0 {
			out[c.name] = p
		}
	}
	return out
}

var workflowChecks = []check[*ghWorkflow]{
	{"trigger", checkTrigger},
	{"top-permissions", checkTopPermissions},
	{"job-permissions", checkJobPermissions},
	{"uses-pinned", func(w *ghWorkflow) []string { return checkUses(w.root) }},
	{"allowed-actions", checkAllowedActions},
	{"run-expressions", checkRunExpressions},
	{"harden-install", func(w *ghWorkflow) []string {
		return checkHardenInstall(w.scripts(), w.actionVersions(), w.installSHA)
	}},
	{"cosign-first", checkCosignFirst},
	{"release-flags", checkReleaseFlags},
	{"checkout", checkCheckout},
	{"timeouts", checkTimeouts},
	{"verify-identity", checkVerifyIdentity},
}

func runWorkflowChecks(t *testing.T, data []byte, installSHA string) map[string][]string {
	t.Helper()
	parse := func(b []byte) (*ghWorkflow, error) {
		w, err := parseWorkflow(b)
		if w != nil {
			w.installSHA = installSHA
		}
		return w, err
	}
	return runChecks(t, data, parse, workflowChecks)
}

func TestReleaseWorkflow(t *testing.T) {
	for name, problems := range runWorkflowChecks(t, readRepoFile(t, workflowPath), installSHA256(t)) {
		for _, p := range problems {
			t.Errorf("%s: %s: %s", workflowPath, name, p)
		}
	}
}

// goodWorkflow passes every check; each bad case below changes one thing in
// it and must be caught by the check it names.
const goodWorkflow = `on:
  push:
    tags: ['*-r[0-9]+']
permissions: {}
env:
  HARDEN_VERSION: v1.2.3
  HARDEN_INSTALL_SHA256: ` + fakeInstallSHA + `
jobs:
  release:
    runs-on: ubuntu-24.04
    timeout-minutes: 30
    permissions:
      id-token: write
      packages: write
      contents: read
    steps:
      - uses: actions/checkout@0123456789abcdef0123456789abcdef01234567 # v9.9.9
        with:
          persist-credentials: false
      - uses: sigstore/cosign-installer@0123456789abcdef0123456789abcdef01234567 # v9.9.9
      - run: |
          curl -fsSLo "$RUNNER_TEMP/install.sh" "https://raw.githubusercontent.com/harden-dev/harden/${HARDEN_VERSION}/scripts/install.sh"
          echo "${HARDEN_INSTALL_SHA256}  $RUNNER_TEMP/install.sh" | sha256sum -c -
          sh "$RUNNER_TEMP/install.sh" --version "$HARDEN_VERSION" --dir "$RUNNER_TEMP/bin"
      - env:
          REF: ${{ github.ref_name }}
        run: echo "$REF"
      - run: harden release --version-tag --pin deploy/app.yaml
      - run: harden verify "$IMAGE" --github-workflow .github/workflows/release.yml
  pin:
    needs: release
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    permissions:
      contents: write
      pull-requests: write
    steps:
      - run: git push origin HEAD:refs/heads/pin && gh pr create --fill
`

const fakeInstallSHA = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

const jobPerms = `    permissions:
      id-token: write
      packages: write
      contents: read
`

func TestWorkflowChecksRejectBadWorkflows(t *testing.T) {
	if got := runWorkflowChecks(t, []byte(goodWorkflow), fakeInstallSHA); len(got) > 0 {
		t.Fatalf("the good workflow fails: %v", got)
	}
	const sha = "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		name     string
		old, new string
		check    string
	}{
		{"tag instead of SHA", "checkout@" + sha, "checkout@v4", "uses-pinned"},
		{"branch instead of SHA", "checkout@" + sha, "checkout@main", "uses-pinned"},
		{"short SHA", "checkout@" + sha, "checkout@0123456", "uses-pinned"},
		{"upper-case SHA", "checkout@" + sha, "checkout@" + strings.ToUpper(sha), "uses-pinned"},
		{"no version comment", " # v9.9.9\n        with", "\n        with", "uses-pinned"},
		{"vague version comment", "# v9.9.9", "# v9", "uses-pinned"},
		{"another action", "actions/checkout@", "someone/checkout@", "allowed-actions"},
		{"pull_request trigger", "on:\n  push:", "on:\n  pull_request:\n  push:", "trigger"},
		{"branch trigger", "    tags: ['*-r[0-9]+']", "    branches: [main]", "trigger"},
		{"no top-level permissions", "permissions: {}\n", "", "top-permissions"},
		{"top-level write-all", "permissions: {}", "permissions: write-all", "top-permissions"},
		{"top-level grants", "permissions: {}", "permissions:\n  contents: write", "top-permissions"},
		{"job write-all", jobPerms, "    permissions: write-all\n", "job-permissions"},
		{"job without permissions", jobPerms, "", "job-permissions"},
		{"job contents write", "contents: read", "contents: write", "job-permissions"},
		{"job extra scope", jobPerms, jobPerms + "      actions: write\n", "job-permissions"},
		{"job without id-token", "      id-token: write\n", "", "job-permissions"},
		{"pin job with id-token", "      pull-requests: write\n", "      pull-requests: write\n      id-token: write\n", "job-permissions"},
		{"pin job with packages", "      pull-requests: write\n", "      pull-requests: write\n      packages: write\n", "job-permissions"},
		{"head_ref in run", `echo "$REF"`, `echo "${{ github.head_ref }}"`, "run-expressions"},
		{"event field in run", `echo "$REF"`, `echo "${{ github.event.pull_request.title }}"`, "run-expressions"},
		{"ref_name in run", `echo "$REF"`, `echo "${{github.ref_name}}"`, "run-expressions"},
		{"harden at latest", "HARDEN_VERSION: v1.2.3", "HARDEN_VERSION: latest", "harden-install"},
		{"harden at main", `--version "$HARDEN_VERSION"`, `--version main`, "harden-install"},
		{"harden version unset", "  HARDEN_VERSION: v1.2.3\n", "", "harden-install"},
		{"script from another version", "harden/${HARDEN_VERSION}/scripts", "harden/main/scripts", "harden-install"},
		{"script from elsewhere", "raw.githubusercontent.com/harden-dev/harden/", "example.com/harden/", "harden-install"},
		{"script not checked", `echo "${HARDEN_INSTALL_SHA256}  $RUNNER_TEMP/install.sh" | sha256sum -c -`, "true", "harden-install"},
		{"script pinned at another digest", "HARDEN_INSTALL_SHA256: " + fakeInstallSHA, "HARDEN_INSTALL_SHA256: " + strings.Repeat("ab", 32), "harden-install"},
		{"harden not installed", "install.sh\" --version", "install.sh\" --help", "harden-install"},
		{"harden by go install", "echo \"$REF\"", "go install github.com/harden-dev/harden/cmd/harden@v1.2.3", "harden-install"},
		{"no cosign before install", "      - uses: sigstore/cosign-installer@" + sha + " # v9.9.9\n", "", "cosign-first"},
		{"release without --version-tag", "--version-tag ", "", "release-flags"},
		{"pin without a pin job", "needs: release", "needs: other", "release-flags"},
		{"pin job that opens no PR", "&& gh pr create --fill", "", "release-flags"},
		{"no release", "harden release", "harden build", "release-flags"},
		{"checkout keeps credentials", "persist-credentials: false", "persist-credentials: true", "checkout"},
		{"no timeout", "    timeout-minutes: 30\n", "", "timeouts"},
		{"verify another workflow", "--github-workflow .github/workflows/release.yml", "--github-workflow .github/workflows/other.yml", "verify-identity"},
		{"verify the template's own path", "--github-workflow .github/workflows/release.yml", "--github-workflow " + workflowPath, "verify-identity"},
		{"no verify", "harden verify", "harden version", "verify-identity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(goodWorkflow, c.old, c.new, 1)
			if bad == goodWorkflow {
				t.Fatalf("%q is not in the good workflow", c.old)
			}
			got := runWorkflowChecks(t, []byte(bad), fakeInstallSHA)
			if len(got[c.check]) == 0 {
				t.Errorf("check %s accepted:\n%s\n(failures: %v)", c.check, bad, got)
			}
		})
	}
}

// The workflow may install harden with harden's own action instead.
func TestWorkflowChecksAcceptHardenAction(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	install := "      - run: |\n          curl"
	i := strings.Index(goodWorkflow, install)
	j := strings.Index(goodWorkflow, "      - env:\n          REF")
	action := "      - uses: harden-dev/harden@" + sha + " # v1.2.3\n        with:\n          version: v1.2.3\n"
	good := goodWorkflow[:i] + action + goodWorkflow[j:]
	if got := runWorkflowChecks(t, []byte(good), fakeInstallSHA); len(got) > 0 {
		t.Fatalf("the workflow with harden's action fails: %v\n%s", got, good)
	}
	bad := strings.Replace(good, "version: v1.2.3", "version: latest", 1)
	if got := runWorkflowChecks(t, []byte(bad), fakeInstallSHA); len(got["harden-install"]) == 0 {
		t.Fatalf("harden's action at latest accepted: %v", got)
	}
}

// ---------------------------------------------------------------------------
// GitLab CI example.

type glJob struct {
	Image     any                       `yaml:"image"`
	IDTokens  map[string]map[string]any `yaml:"id_tokens"`
	Variables map[string]any            `yaml:"variables"`
	Script    any                       `yaml:"script"`
	Rules     []map[string]any          `yaml:"rules"`
}

type glPipeline struct {
	raw        string
	image      any
	defImage   any
	variables  map[string]any
	jobs       map[string]glJob
	installSHA string // what scripts/install.sh must be pinned at
}

// glKeywords are top-level keys that are not jobs.
var glKeywords = []string{"default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script"}

func parseGitLab(data []byte) (*glPipeline, error) {
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	p := &glPipeline{raw: string(data), jobs: map[string]glJob{}}
	for k, n := range top {
		var err error
		switch {
		case k == "image":
			err = n.Decode(&p.image)
		case k == "variables":
			err = n.Decode(&p.variables)
		case k == "default":
			var d struct {
				Image any `yaml:"image"`
			}
			err = n.Decode(&d)
			p.defImage = d.Image
		case slices.Contains(glKeywords, k), strings.HasPrefix(k, "."), n.Kind != yaml.MappingNode:
		default:
			var j glJob
			err = n.Decode(&j)
			p.jobs[k] = j
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return p, nil
}

// strs flattens a string or a (nested) list of strings.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, strs(e)...)
		}
		return out
	}
	return nil
}

// vars reads GitLab variables, which are either plain values or {value: …}.
func vars(dst map[string]string, src map[string]any) {
	for k, v := range src {
		switch v := v.(type) {
		case map[string]any:
			dst[k] = fmt.Sprint(v["value"])
		default:
			dst[k] = fmt.Sprint(v)
		}
	}
}

func imageName(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		s, _ := v["name"].(string)
		return s
	}
	return ""
}

func (p *glPipeline) jobNames() []string { return slices.Sorted(maps.Keys(p.jobs)) }

func (p *glPipeline) scripts(jn string) []script {
	j := p.jobs[jn]
	env := map[string]string{}
	vars(env, p.variables)
	vars(env, j.Variables)
	var out []script
	for i, s := range strs(j.Script) {
		out = append(out, script{where: fmt.Sprintf("job %s script line %d", jn, i+1), text: s, env: env})
	}
	return out
}

// jobScripts is each job's script as one text, lines in order, so that
// checks can see what runs before what.
func (p *glPipeline) jobScripts() []script {
	var out []script
	for _, jn := range p.jobNames() {
		lines := p.scripts(jn)
		if len(lines) == 0 {
			continue
		}
		var text []string
		for _, l := range lines {
			text = append(text, l.text)
		}
		out = append(out, script{where: "job " + jn, text: strings.Join(text, "\n"), env: lines[0].env})
	}
	return out
}

// checkGitLabCosign wants cosign, which verifies harden, checked against a
// pinned SHA-256 before install.sh runs.
func checkGitLabCosign(p *glPipeline) []string {
	var problems []string
	for _, s := range p.jobScripts() {
		run := installRun.FindStringIndex(s.text)
		if run == nil {
			continue
		}
		checked := false
		for path, c := range sumChecks(s) {
			if strings.Contains(filepath.Base(path), "cosign") && c.at < run[0] && hex64.MatchString(c.sum) {
				checked = true
			}
		}
		if !checked {
			problems = append(problems, fmt.Sprintf("%s: no sha256sum -c of cosign against a pinned digest before install.sh runs", s.where))
		}
	}
	return problems
}

// checkGitLabReleaseFlags wants harden release with --version-tag.
func checkGitLabReleaseFlags(p *glPipeline) []string {
	var problems []string
	for _, s := range p.jobScripts() {
		for _, line := range strings.Split(s.text, "\n") {
			if strings.Contains(line, "harden release") && !strings.Contains(line, "--version-tag") {
				problems = append(problems, fmt.Sprintf("%s: harden release without --version-tag", s.where))
			}
		}
	}
	return problems
}

// releaseJobs are the jobs that sign: those that run harden release.
func (p *glPipeline) releaseJobs() []string {
	var out []string
	for _, jn := range p.jobNames() {
		for _, s := range p.scripts(jn) {
			if strings.Contains(s.text, "harden release") {
				out = append(out, jn)
				break
			}
		}
	}
	return out
}

// checkGitLabIDTokens wants every signing job to get a Sigstore-audience
// OIDC token as $SIGSTORE_ID_TOKEN.
func checkGitLabIDTokens(p *glPipeline) []string {
	jobs := p.releaseJobs()
	if len(jobs) == 0 {
		return []string{"no job runs harden release"}
	}
	var problems []string
	for _, jn := range jobs {
		tok, ok := p.jobs[jn].IDTokens["SIGSTORE_ID_TOKEN"]
		if !ok {
			problems = append(problems, fmt.Sprintf("job %s: no id_tokens: SIGSTORE_ID_TOKEN", jn))
			continue
		}
		if aud := strs(tok["aud"]); !slices.Contains(aud, "sigstore") {
			problems = append(problems, fmt.Sprintf("job %s: SIGSTORE_ID_TOKEN audience %v; want sigstore", jn, aud))
		}
	}
	return problems
}

var latestRef = regexp.MustCompile(`[:@]latest\b`)

// imageProblem rejects an image reference that floats: no tag, or latest.
func imageProblem(ref string) string {
	if strings.Contains(ref, "@sha256:") {
		return ""
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(last, ":")
	switch {
	case !ok:
		return fmt.Sprintf("image %q has no tag (so latest)", ref)
	case tag == "latest":
		return fmt.Sprintf("image %q is latest", ref)
	}
	return ""
}

// checkGitLabImages wants every image named by tag or digest, never latest,
// and nothing anywhere at :latest or @latest.
func checkGitLabImages(p *glPipeline) []string {
	var problems []string
	for _, ref := range []string{imageName(p.image), imageName(p.defImage)} {
		if ref == "" {
			continue
		}
		if msg := imageProblem(ref); msg != "" {
			problems = append(problems, msg)
		}
	}
	for _, jn := range p.jobNames() {
		ref := imageName(p.jobs[jn].Image)
		if ref == "" {
			if imageName(p.image) == "" && imageName(p.defImage) == "" {
				problems = append(problems, fmt.Sprintf("job %s: no image; the runner's default would be used", jn))
			}
			continue
		}
		if msg := imageProblem(ref); msg != "" {
			problems = append(problems, fmt.Sprintf("job %s: %s", jn, msg))
		}
	}
	for i, line := range strings.Split(p.raw, "\n") {
		if latestRef.MatchString(line) {
			problems = append(problems, fmt.Sprintf("line %d: %q refers to latest", i+1, strings.TrimSpace(line)))
		}
	}
	return problems
}

const (
	gitlabIdentity = `--certificate-identity "https://gitlab.com/${CI_PROJECT_PATH}//.gitlab-ci.yml@refs/tags/${CI_COMMIT_TAG}"`
	gitlabIssuer   = `--certificate-oidc-issuer https://gitlab.com`
)

// checkGitLabVerify wants each release job to run on tags only and to verify
// the identity a tag pipeline of .gitlab-ci.yml signs with.
func checkGitLabVerify(p *glPipeline) []string {
	jobs := p.releaseJobs()
	if len(jobs) == 0 {
		return []string{"no job runs harden release"}
	}
	var problems []string
	for _, jn := range jobs {
		tagOnly := false
		for _, r := range p.jobs[jn].Rules {
			if s, _ := r["if"].(string); strings.TrimSpace(s) == "$CI_COMMIT_TAG" {
				tagOnly = true
			}
		}
		if !tagOnly {
			problems = append(problems, fmt.Sprintf("job %s: no rule `if: $CI_COMMIT_TAG`", jn))
		}
		verified := false
		for _, s := range p.scripts(jn) {
			if strings.Contains(s.text, "harden verify") && strings.Contains(s.text, gitlabIdentity) && strings.Contains(s.text, gitlabIssuer) {
				verified = true
			}
		}
		if !verified {
			problems = append(problems, fmt.Sprintf("job %s: no harden verify with %s %s", jn, gitlabIdentity, gitlabIssuer))
		}
	}
	return problems
}

var gitlabChecks = []check[*glPipeline]{
	{"id-tokens", checkGitLabIDTokens},
	{"images", checkGitLabImages},
	{"harden-install", func(p *glPipeline) []string { return checkHardenInstall(p.jobScripts(), nil, p.installSHA) }},
	{"cosign", checkGitLabCosign},
	{"release-flags", checkGitLabReleaseFlags},
	{"verify", checkGitLabVerify},
}

func runGitLabChecks(t *testing.T, data []byte, installSHA string) map[string][]string {
	t.Helper()
	parse := func(b []byte) (*glPipeline, error) {
		p, err := parseGitLab(b)
		if p != nil {
			p.installSHA = installSHA
		}
		return p, err
	}
	return runChecks(t, data, parse, gitlabChecks)
}

func TestGitLabExample(t *testing.T) {
	for name, problems := range runGitLabChecks(t, readRepoFile(t, gitlabPath), installSHA256(t)) {
		for _, p := range problems {
			t.Errorf("%s: %s: %s", gitlabPath, name, p)
		}
	}
}

const goodGitLab = `release:
  image: debian:bookworm-slim
  rules:
    - if: $CI_COMMIT_TAG
  id_tokens:
    SIGSTORE_ID_TOKEN:
      aud: sigstore
  variables:
    HARDEN_VERSION: v1.2.3
    HARDEN_INSTALL_SHA256: ` + fakeInstallSHA + `
    COSIGN_SHA256: ` + fakeCosignSHA + `
  script:
    - curl -fsSLo /tmp/cosign https://github.com/sigstore/cosign/releases/download/v9.9.9/cosign-linux-amd64
    - echo "${COSIGN_SHA256}  /tmp/cosign" | sha256sum -c -
    - curl -fsSLo /tmp/install.sh "https://raw.githubusercontent.com/harden-dev/harden/${HARDEN_VERSION}/scripts/install.sh"
    - echo "${HARDEN_INSTALL_SHA256}  /tmp/install.sh" | sha256sum -c -
    - sh /tmp/install.sh --version "$HARDEN_VERSION" --dir /usr/local/bin
    - harden release --repo "$CI_REGISTRY_IMAGE/pgcli" --runtime chroot --version-tag
    - harden verify "$IMAGE" --certificate-identity "https://gitlab.com/${CI_PROJECT_PATH}//.gitlab-ci.yml@refs/tags/${CI_COMMIT_TAG}" --certificate-oidc-issuer https://gitlab.com
`

const fakeCosignSHA = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

func TestGitLabChecksRejectBadPipelines(t *testing.T) {
	if got := runGitLabChecks(t, []byte(goodGitLab), fakeInstallSHA); len(got) > 0 {
		t.Fatalf("the good pipeline fails: %v", got)
	}
	cases := []struct {
		name     string
		old, new string
		check    string
	}{
		{"no id_tokens", "  id_tokens:\n    SIGSTORE_ID_TOKEN:\n      aud: sigstore\n", "", "id-tokens"},
		{"token under another name", "SIGSTORE_ID_TOKEN:", "ID_TOKEN:", "id-tokens"},
		{"wrong audience", "aud: sigstore", "aud: https://example.com", "id-tokens"},
		{"image latest", "debian:bookworm-slim", "debian:latest", "images"},
		{"image without tag", "debian:bookworm-slim", "debian", "images"},
		{"no image", "  image: debian:bookworm-slim\n", "", "images"},
		{"latest anywhere", "--runtime chroot", "--runtime chroot --base debian:latest", "images"},
		{"harden at latest", "HARDEN_VERSION: v1.2.3", "HARDEN_VERSION: latest", "harden-install"},
		{"harden at main", `--version "$HARDEN_VERSION"`, "--version main", "harden-install"},
		{"script pinned at another digest", "HARDEN_INSTALL_SHA256: " + fakeInstallSHA, "HARDEN_INSTALL_SHA256: " + strings.Repeat("ab", 32), "harden-install"},
		{"script checked after it ran", "    - echo \"${HARDEN_INSTALL_SHA256}  /tmp/install.sh\" | sha256sum -c -\n", "", "harden-install"},
		{"harden by go install", "    - sh /tmp/install.sh", "    - go install github.com/harden-dev/harden/cmd/harden@v1.2.3\n    - sh /tmp/install.sh", "harden-install"},
		{"cosign not checked", "    - echo \"${COSIGN_SHA256}  /tmp/cosign\" | sha256sum -c -\n", "", "cosign"},
		{"cosign digest unset", "    COSIGN_SHA256: " + fakeCosignSHA + "\n", "", "cosign"},
		{"release without --version-tag", " --version-tag", "", "release-flags"},
		{"not tag-only", "    - if: $CI_COMMIT_TAG\n", "    - if: $CI_COMMIT_BRANCH\n", "verify"},
		{"verify another identity", "refs/tags/${CI_COMMIT_TAG}", "refs/heads/main", "verify"},
		{"verify another issuer", "--certificate-oidc-issuer https://gitlab.com", "--certificate-oidc-issuer https://example.com", "verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(goodGitLab, c.old, c.new, 1)
			if bad == goodGitLab {
				t.Fatalf("%q is not in the good pipeline", c.old)
			}
			got := runGitLabChecks(t, []byte(bad), fakeInstallSHA)
			if len(got[c.check]) == 0 {
				t.Errorf("check %s accepted:\n%s\n(failures: %v)", c.check, bad, got)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Dependabot keeps the pins moving.

func TestDependabot(t *testing.T) {
	var cfg struct {
		Version int `yaml:"version"`
		Updates []struct {
			Ecosystem string `yaml:"package-ecosystem"`
			Directory string `yaml:"directory"`
			Schedule  struct {
				Interval string `yaml:"interval"`
			} `yaml:"schedule"`
		} `yaml:"updates"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, dependabotPath), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Version != 2 {
		t.Errorf("version %d; want 2", cfg.Version)
	}
	got := map[string]string{}
	for _, u := range cfg.Updates {
		got[u.Ecosystem] = u.Schedule.Interval
	}
	for _, eco := range []string{"github-actions", "gomod"} {
		if got[eco] != "weekly" {
			t.Errorf("%s: %s updates %q; want weekly", dependabotPath, eco, got[eco])
		}
	}
}

// ---------------------------------------------------------------------------
// harden's own action (action.yml at the repository root).

type ghAction struct {
	Inputs map[string]struct {
		Required bool   `yaml:"required"`
		Default  string `yaml:"default"`
	} `yaml:"inputs"`
	Runs struct {
		Using string   `yaml:"using"`
		Steps []ghStep `yaml:"steps"`
	} `yaml:"runs"`
	root  *yaml.Node
	shell []string // each step's shell:, in order
}

func parseAction(data []byte) (*ghAction, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	a := &ghAction{root: &root}
	if err := root.Decode(a); err != nil {
		return nil, err
	}
	var shells struct {
		Runs struct {
			Steps []struct {
				Shell string `yaml:"shell"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := root.Decode(&shells); err != nil {
		return nil, err
	}
	for _, s := range shells.Runs.Steps {
		a.shell = append(a.shell, s.Shell)
	}
	return a, nil
}

var (
	actionInput   = regexp.MustCompile(`^\$\{\{\s*inputs\.([\w-]+)\s*\}\}$`)
	actionInstall = regexp.MustCompile(`"\$GITHUB_ACTION_PATH/scripts/install\.sh"\s+--version\s+"\$(\w+)"\s+--dir\s+"\$(\w+)"`)
)

// checkActionInstall wants a composite action whose version input is
// required and reaches scripts/install.sh --version through env:, whose
// install-dir input reaches --dir, after cosign is installed, with the
// directory added to PATH.
func checkActionInstall(a *ghAction) []string {
	var problems []string
	if a.Runs.Using != "composite" {
		problems = append(problems, fmt.Sprintf("runs.using %q; want composite", a.Runs.Using))
	}
	if in, ok := a.Inputs["version"]; !ok || !in.Required || in.Default != "" {
		problems = append(problems, "input version must be required, with no default: the caller pins the release")
	}
	if _, ok := a.Inputs["install-dir"]; !ok {
		problems = append(problems, "no install-dir input")
	}
	cosign, installed := false, false
	for i, s := range a.Runs.Steps {
		if strings.HasPrefix(s.Uses, "sigstore/cosign-installer@") {
			cosign = true
		}
		if s.Run != "" && (i >= len(a.shell) || a.shell[i] == "") {
			problems = append(problems, fmt.Sprintf("step %d: run: without shell:", i+1))
		}
		m := actionInstall.FindStringSubmatch(s.Run)
		if m == nil {
			continue
		}
		installed = true
		if !cosign {
			problems = append(problems, fmt.Sprintf("step %d: install.sh runs before sigstore/cosign-installer", i+1))
		}
		if in := actionInput.FindStringSubmatch(s.Env[m[1]]); in == nil || in[1] != "version" {
			problems = append(problems, fmt.Sprintf("step %d: --version comes from $%s = %q, not ${{ inputs.version }}", i+1, m[1], s.Env[m[1]]))
		}
		dirVar := regexp.MustCompile(`(?m)^\s*` + m[2] + `="\$\{(\w+):-[^}]*\}"`).FindStringSubmatch(s.Run)
		if dirVar == nil {
			problems = append(problems, fmt.Sprintf("step %d: --dir $%s is not set from the install-dir input", i+1, m[2]))
		} else if in := actionInput.FindStringSubmatch(s.Env[dirVar[1]]); in == nil || in[1] != "install-dir" {
			problems = append(problems, fmt.Sprintf("step %d: --dir comes from $%s = %q, not ${{ inputs.install-dir }}", i+1, dirVar[1], s.Env[dirVar[1]]))
		}
		if !strings.Contains(s.Run, `echo "$`+m[2]+`" >> "$GITHUB_PATH"`) {
			problems = append(problems, fmt.Sprintf("step %d: the install directory is not added to $GITHUB_PATH", i+1))
		}
	}
	if !installed {
		problems = append(problems, `no step runs "$GITHUB_ACTION_PATH/scripts/install.sh" --version "$VAR" --dir "$VAR"`)
	}
	return problems
}

// checkActionExpressions rejects ${{ }} inside the action's run: scripts.
func checkActionExpressions(a *ghAction) []string {
	expr := regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	var problems []string
	for i, s := range a.Runs.Steps {
		for _, m := range expr.FindAllString(s.Run, -1) {
			problems = append(problems, fmt.Sprintf("step %d: run: interpolates %s; pass it through env: instead", i+1, m))
		}
	}
	return problems
}

var actionChecks = []check[*ghAction]{
	{"uses-pinned", func(a *ghAction) []string { return checkUses(a.root) }},
	{"install", checkActionInstall},
	{"run-expressions", checkActionExpressions},
}

func runActionChecks(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	return runChecks(t, data, parseAction, actionChecks)
}

func TestAction(t *testing.T) {
	data := readRepoFile(t, actionPath)
	for name, problems := range runActionChecks(t, data) {
		for _, p := range problems {
			t.Errorf("%s: %s: %s", actionPath, name, p)
		}
	}
	// The templates install cosign with the same pinned installer, so
	// that an update of one shows in the other.
	a, err := parseAction(data)
	if err != nil {
		t.Fatal(err)
	}
	w, err := parseWorkflow(readRepoFile(t, workflowPath))
	if err != nil {
		t.Fatal(err)
	}
	pins := func(root *yaml.Node) map[string]string {
		out := map[string]string{}
		for _, u := range collectUses(root) {
			if strings.HasPrefix(u.value, "sigstore/cosign-installer@") {
				out[u.value+" "+u.comment] = u.value
			}
		}
		return out
	}
	ap, wp := pins(a.root), pins(w.root)
	if len(ap) != 1 || !maps.Equal(ap, wp) {
		t.Errorf("cosign-installer pins differ: %s has %v, %s has %v", actionPath, slices.Collect(maps.Keys(ap)), workflowPath, slices.Collect(maps.Keys(wp)))
	}
}

const goodAction = `name: x
inputs:
  version:
    required: true
  install-dir:
    default: ''
runs:
  using: composite
  steps:
    - uses: sigstore/cosign-installer@0123456789abcdef0123456789abcdef01234567 # v9.9.9
    - shell: bash
      env:
        V: ${{ inputs.version }}
        D: ${{ inputs.install-dir }}
      run: |
        dir="${D:-$RUNNER_TEMP/bin}"
        sh "$GITHUB_ACTION_PATH/scripts/install.sh" --version "$V" --dir "$dir"
        echo "$dir" >> "$GITHUB_PATH"
`

func TestActionChecksRejectBadActions(t *testing.T) {
	if got := runActionChecks(t, []byte(goodAction)); len(got) > 0 {
		t.Fatalf("the good action fails: %v", got)
	}
	cases := []struct {
		name     string
		old, new string
		check    string
	}{
		{"installer by tag", "cosign-installer@0123456789abcdef0123456789abcdef01234567", "cosign-installer@v4", "uses-pinned"},
		{"installer without version comment", " # v9.9.9", "", "uses-pinned"},
		{"not composite", "using: composite", "using: node24", "install"},
		{"version optional", "    required: true\n", "    required: false\n", "install"},
		{"no install-dir input", "  install-dir:\n    default: ''\n", "", "install"},
		{"version from elsewhere", "${{ inputs.version }}", "${{ github.ref_name }}", "install"},
		{"dir from elsewhere", "${{ inputs.install-dir }}", "${{ runner.temp }}", "install"},
		{"dir not on PATH", `echo "$dir" >> "$GITHUB_PATH"`, "true", "install"},
		{"install.sh not run", "scripts/install.sh", "scripts/other.sh", "install"},
		{"no cosign", "    - uses: sigstore/cosign-installer@0123456789abcdef0123456789abcdef01234567 # v9.9.9\n", "", "install"},
		{"no shell", "    - shell: bash\n      env:", "    - env:", "install"},
		{"expression in run", `--version "$V"`, `--version "${{ inputs.version }}"`, "run-expressions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(goodAction, c.old, c.new, 1)
			if bad == goodAction {
				t.Fatalf("%q is not in the good action", c.old)
			}
			if got := runActionChecks(t, []byte(bad)); len(got[c.check]) == 0 {
				t.Errorf("check %s accepted:\n%s\n(failures: %v)", c.check, bad, got)
			}
		})
	}
}

// TestHardenReleaseWorkflow: harden's own release workflow runs only on
// version tags, pins every action, keeps secrets out of run: scripts, signs
// with exactly the identity install.sh and action.yml check, and checks its
// own output before publishing it.
func TestHardenReleaseWorkflow(t *testing.T) {
	const path = ".github/workflows/release.yml"
	data := readRepoFile(t, path)
	w, err := parseWorkflow(data)
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	problems = append(problems, checkTopPermissions(w)...)
	problems = append(problems, checkUses(w.root)...)
	problems = append(problems, checkRunExpressions(w)...)
	problems = append(problems, checkCheckout(w)...)
	if got := w.jobNames(); !slices.Equal(got, []string{"dist"}) {
		problems = append(problems, fmt.Sprintf("jobs %v; want one dist job", got))
	} else {
		var perms map[string]string
		p := w.Jobs["dist"].Permissions
		if err := p.Decode(&perms); err != nil || !maps.Equal(perms, map[string]string{"contents": "write", "id-token": "write"}) {
			problems = append(problems, fmt.Sprintf("dist job permissions %v (%v); want exactly contents: write, id-token: write", perms, err))
		}
	}
	var trigger struct {
		On struct {
			Push map[string][]string `yaml:"push"`
		} `yaml:"on"`
	}
	if err := yaml.Unmarshal(data, &trigger); err != nil || len(trigger.On.Push) != 1 || len(trigger.On.Push["tags"]) == 0 {
		problems = append(problems, fmt.Sprintf("trigger %v (%v); want version tags only", trigger.On.Push, err))
	}
	var text string
	for _, s := range w.scripts() {
		text += s.text + "\n"
	}
	// The release is checked, with the signer's identity, before it is
	// published.
	for _, want := range []string{"make dist", "sha256sum --check", "cosign verify-blob", "verify-blob SHA256SUMS", "gh release create"} {
		if !strings.Contains(text, want) {
			problems = append(problems, fmt.Sprintf("no %q step", want))
		}
	}
	if i, j := strings.Index(text, "verify-blob"), strings.Index(text, "gh release create"); i < 0 || j < i {
		problems = append(problems, "the release is published before it is verified")
	}
	// install.sh's default identity names this file.
	install := string(readRepoFile(t, "scripts/install.sh"))
	if !strings.Contains(install, "/"+path+"@refs/tags/") {
		problems = append(problems, "scripts/install.sh does not check the identity of "+path)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
