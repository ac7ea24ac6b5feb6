package citemplates

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The files under test, relative to the repository root.
const (
	workflowPath   = ".github/workflows/release.yml"
	gitlabPath     = "examples/gitlab-ci.yml"
	dependabotPath = ".github/dependabot.yml"
)

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
	hardenInstall = regexp.MustCompile(`go install\s+"?github\.com/harden-dev/harden/cmd/harden@([^"\s]+)"?`)
	// A release tag (or an immutable pseudo-version), never a branch or latest.
	pinnedVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)
	varRef        = regexp.MustCompile(`^\$\{?(\w+)\}?$`)
)

// checkHardenInstall wants at least one `go install …/cmd/harden@VERSION`,
// each at a pinned release, following $VAR and ${VAR} through the script's
// environment.
func checkHardenInstall(scripts []script) []string {
	var problems []string
	found := 0
	for _, s := range scripts {
		for _, m := range hardenInstall.FindAllStringSubmatch(s.text, -1) {
			found++
			v := m[1]
			if r := varRef.FindStringSubmatch(v); r != nil {
				val, ok := s.env[r[1]]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: harden is installed at $%s, which nothing sets", s.where, r[1]))
					continue
				}
				v = val
			}
			if !pinnedVersion.MatchString(v) {
				problems = append(problems, fmt.Sprintf("%s: harden is installed at %q; pin a release such as v1.2.3, not latest or a branch", s.where, v))
			}
		}
	}
	if found == 0 {
		problems = append(problems, "nothing installs harden with go install github.com/harden-dev/harden/cmd/harden@VERSION")
	}
	return problems
}

// ---------------------------------------------------------------------------
// GitHub Actions workflow.

type ghWorkflow struct {
	Permissions yaml.Node         `yaml:"permissions"` // Kind 0 when absent
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]ghJob  `yaml:"jobs"`
	root        *yaml.Node
}

type ghJob struct {
	Permissions    yaml.Node         `yaml:"permissions"`
	Env            map[string]string `yaml:"env"`
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
	// runs with the job's OIDC token in reach.
	allowedActions = []string{"actions/checkout", "actions/setup-go", "actions/upload-artifact"}
	wantJobPerms   = map[string]string{"id-token": "write", "packages": "write", "contents": "read"}
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

// checkJobPermissions wants each job to ask for exactly the scopes a release
// needs: the OIDC token, the package push and a read of the sources.
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
		// The release job needs exactly these; any other job (the
		// optional VSA job) no more than they give.
		if jn == "release" && !maps.Equal(got, wantJobPerms) {
			problems = append(problems, fmt.Sprintf("job %s: permissions %v; want exactly %v", jn, got, wantJobPerms))
		}
		for k, v := range got {
			if wantJobPerms[k] != v {
				problems = append(problems, fmt.Sprintf("job %s: permission %s: %s; allowed: %v", jn, k, v, wantJobPerms))
			}
		}
	}
	return problems
}

// checkUses wants every action pinned by full commit SHA with a trailing
// "# vX.Y.Z" comment that names the release.
func checkUses(w *ghWorkflow) []string {
	var problems []string
	for _, u := range collectUses(w.root) {
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
		if m[1] != workflowPath {
			return []string{fmt.Sprintf("%s: harden verify expects workflow %s, but this file is %s", s.where, m[1], workflowPath)}
		}
		return nil
	}
	return []string{"no step runs harden verify"}
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
	{"top-permissions", checkTopPermissions},
	{"job-permissions", checkJobPermissions},
	{"uses-pinned", checkUses},
	{"allowed-actions", checkAllowedActions},
	{"run-expressions", checkRunExpressions},
	{"harden-install", func(w *ghWorkflow) []string { return checkHardenInstall(w.scripts()) }},
	{"checkout", checkCheckout},
	{"timeouts", checkTimeouts},
	{"verify-identity", checkVerifyIdentity},
}

func runWorkflowChecks(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	return runChecks(t, data, parseWorkflow, workflowChecks)
}

func TestReleaseWorkflow(t *testing.T) {
	for name, problems := range runWorkflowChecks(t, readRepoFile(t, workflowPath)) {
		for _, p := range problems {
			t.Errorf("%s: %s: %s", workflowPath, name, p)
		}
	}
}

// goodWorkflow passes every check; each bad case below changes one thing in
// it and must be caught by the check it names.
const goodWorkflow = `permissions: {}
env:
  HARDEN_VERSION: v1.2.3
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
      - run: go install "github.com/harden-dev/harden/cmd/harden@${HARDEN_VERSION}"
      - env:
          REF: ${{ github.ref_name }}
        run: echo "$REF"
      - run: harden verify "$IMAGE" --github-workflow .github/workflows/release.yml
`

const jobPerms = `    permissions:
      id-token: write
      packages: write
      contents: read
`

func TestWorkflowChecksRejectBadWorkflows(t *testing.T) {
	if got := runWorkflowChecks(t, []byte(goodWorkflow)); len(got) > 0 {
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
		{"no version comment", " # v9.9.9", "", "uses-pinned"},
		{"vague version comment", "# v9.9.9", "# v9", "uses-pinned"},
		{"another action", "actions/checkout@", "someone/checkout@", "allowed-actions"},
		{"no top-level permissions", "permissions: {}\n", "", "top-permissions"},
		{"top-level write-all", "permissions: {}", "permissions: write-all", "top-permissions"},
		{"top-level grants", "permissions: {}", "permissions:\n  contents: write", "top-permissions"},
		{"job write-all", jobPerms, "    permissions: write-all\n", "job-permissions"},
		{"job without permissions", jobPerms, "", "job-permissions"},
		{"job contents write", "contents: read", "contents: write", "job-permissions"},
		{"job extra scope", jobPerms, jobPerms + "      actions: write\n", "job-permissions"},
		{"job without id-token", "      id-token: write\n", "", "job-permissions"},
		{"head_ref in run", `echo "$REF"`, `echo "${{ github.head_ref }}"`, "run-expressions"},
		{"event field in run", `echo "$REF"`, `echo "${{ github.event.pull_request.title }}"`, "run-expressions"},
		{"ref_name in run", `echo "$REF"`, `echo "${{github.ref_name}}"`, "run-expressions"},
		{"harden at latest", "HARDEN_VERSION: v1.2.3", "HARDEN_VERSION: latest", "harden-install"},
		{"harden at main", "@${HARDEN_VERSION}", "@main", "harden-install"},
		{"harden version unset", "  HARDEN_VERSION: v1.2.3\n", "", "harden-install"},
		{"harden not installed", "go install", "go build", "harden-install"},
		{"checkout keeps credentials", "persist-credentials: false", "persist-credentials: true", "checkout"},
		{"no timeout", "    timeout-minutes: 30\n", "", "timeouts"},
		{"verify another workflow", "--github-workflow .github/workflows/release.yml", "--github-workflow .github/workflows/other.yml", "verify-identity"},
		{"no verify", "harden verify", "harden version", "verify-identity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(goodWorkflow, c.old, c.new, 1)
			if bad == goodWorkflow {
				t.Fatalf("%q is not in the good workflow", c.old)
			}
			got := runWorkflowChecks(t, []byte(bad))
			if len(got[c.check]) == 0 {
				t.Errorf("check %s accepted:\n%s\n(failures: %v)", c.check, bad, got)
			}
		})
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
	raw       string
	image     any
	defImage  any
	variables map[string]any
	jobs      map[string]glJob
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

func (p *glPipeline) allScripts() []script {
	var out []script
	for _, jn := range p.jobNames() {
		out = append(out, p.scripts(jn)...)
	}
	return out
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
	{"harden-install", func(p *glPipeline) []string { return checkHardenInstall(p.allScripts()) }},
	{"verify", checkGitLabVerify},
}

func runGitLabChecks(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	return runChecks(t, data, parseGitLab, gitlabChecks)
}

func TestGitLabExample(t *testing.T) {
	for name, problems := range runGitLabChecks(t, readRepoFile(t, gitlabPath)) {
		for _, p := range problems {
			t.Errorf("%s: %s: %s", gitlabPath, name, p)
		}
	}
}

const goodGitLab = `release:
  image: golang:1.26.8-bookworm
  rules:
    - if: $CI_COMMIT_TAG
  id_tokens:
    SIGSTORE_ID_TOKEN:
      aud: sigstore
  variables:
    HARDEN_VERSION: v1.2.3
  script:
    - go install "github.com/harden-dev/harden/cmd/harden@${HARDEN_VERSION}"
    - harden release --repo "$CI_REGISTRY_IMAGE/pgcli" --runtime chroot
    - harden verify "$IMAGE" --certificate-identity "https://gitlab.com/${CI_PROJECT_PATH}//.gitlab-ci.yml@refs/tags/${CI_COMMIT_TAG}" --certificate-oidc-issuer https://gitlab.com
`

func TestGitLabChecksRejectBadPipelines(t *testing.T) {
	if got := runGitLabChecks(t, []byte(goodGitLab)); len(got) > 0 {
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
		{"image latest", "golang:1.26.8-bookworm", "golang:latest", "images"},
		{"image without tag", "golang:1.26.8-bookworm", "golang", "images"},
		{"no image", "  image: golang:1.26.8-bookworm\n", "", "images"},
		{"latest anywhere", "--runtime chroot", "--runtime chroot --base debian:latest", "images"},
		{"harden at latest", "HARDEN_VERSION: v1.2.3", "HARDEN_VERSION: latest", "harden-install"},
		{"harden at main", "@${HARDEN_VERSION}", "@main", "harden-install"},
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
			got := runGitLabChecks(t, []byte(bad))
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
