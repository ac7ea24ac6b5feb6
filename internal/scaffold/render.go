package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/harden-dev/harden/examples"
	"github.com/harden-dev/harden/internal/buildinfo"
)

// file is one file to write.
type file struct {
	path  string // relative, slash-separated
	data  []byte
	merge bool // an existing file was merged into data, not replaced
}

// render returns every file to write; lockText "" leaves the lock out.
func (p *project) render(o Options, lockText string) ([]file, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	wf, err := p.workflow()
	if err != nil {
		return nil, err
	}
	out := []file{{path: ConfigFile, data: cfg}, {path: RequirementsFile, data: p.requirementsIn()}}
	if lockText != "" {
		out = append(out, file{path: LockFile, data: []byte(lockText)})
	}
	gi, merged, err := gitignore(filepath.Join(o.Dir, GitignoreFile))
	if err != nil {
		return nil, err
	}
	if gi != nil {
		out = append(out, file{path: GitignoreFile, data: gi, merge: merged})
	}
	return append(out, file{path: WorkflowFile, data: wf}), nil
}

// SchemaURL is where editors fetch the schema of harden.yaml: the file in
// harden's repository at the release (or commit) that wrote it, so that
// it describes the fields this harden reads; main for other builds.
func SchemaURL(info buildinfo.Info) string {
	return "https://raw.githubusercontent.com/harden-dev/harden/" + info.SourceRef() + "/docs/harden.schema.json"
}

// yq quotes s as a YAML scalar when it needs quoting.
func yq(s string) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(b), "\n")
}

var configTmpl = template.Must(template.New("harden.yaml").Funcs(template.FuncMap{"q": yq}).Parse(
	`# yaml-language-server: $schema={{.SchemaURL}}
# The image harden builds, tests, signs and verifies. harden init wrote it;
# fill in what the comments ask for. docs/config-reference.md in harden's
# repository lists every field. Paths are relative to this file.
name: {{q .Name}}
# The app's version, then -rN for the image's revision (harden bump moves it).
version: {{q .Version}}
{{if .Placeholder}}# Where releases go: set your registry and repository (no tag). The CI
# workflow passes --repo for GitHub's registry instead.
{{else}}# Where releases go (no tag; releases are pushed by digest).
{{end}}repository: {{q .Repository}}

# The base image, pinned by digest (harden base update moves it to what the
# tag points to now).
base: {{q .Base}}
# Add linux/arm64 when the base has it.
platforms: [linux/amd64]

# The app as you ask for it, and the hash-locked pins harden lock writes.
requirements: requirements.in
lock: requirements.lock
{{- if .IndexURL}}
index:
  url: {{q .IndexURL}}
{{- end}}
{{if .UserName}}
# The image runs as this non-root user (uid and gid 10001).
user:
  name: {{q .UserName}}
{{end}}
{{if .Entrypoint}}# The program the image runs.
entrypoint: [{{q .Entrypoint}}]
{{else}}# The program the image runs. Left out, the build takes the console
# script of the requirement; name it when the app has several:
# entrypoint: [{{.Name}}]
{{end}}env:
  LANG: C.UTF-8
  PYTHONDONTWRITEBYTECODE: "1"
  PYTHONUNBUFFERED: "1"

{{if .Identity}}# Who signs releases; harden verify and the admission policies require it.
signer:
  identity: {{q .Identity}}
  issuer: {{q .Issuer}}
{{else}}# Who signs releases; harden verify and the admission policies require it.
# For the CI workflow beside this file, once it is in its repository:
# signer:
#   github:
#     repo: OWNER/REPO
#     workflow: .github/workflows/release.yml
{{end}}
# What harden test checks in the built image, run as its user with no
# network. Add checks of what the app does; expect takes exitCode, stdout,
# stdoutContains, stdoutRegexp, stderr, stderrContains and stderrRegexp.
smoke:
  - name: {{q .HelpName}}
    args: [--help]
    expect:
      exitCode: 0
  - name: runs as uid 10001
    entrypoint: [python3, -c, "import os; print(os.getuid())"]
    expect:
      stdout: "10001"
`))

// config renders harden.yaml.
func (p *project) config() ([]byte, error) {
	help := p.Entrypoint + " --help"
	if p.Entrypoint == "" {
		help = "the entrypoint answers --help"
	}
	var b bytes.Buffer
	err := configTmpl.Execute(&b, struct {
		*project
		Version, HelpName string
	}{p, p.AppVersion + "-r1", help})
	return b.Bytes(), err
}

func (p *project) requirementsIn() []byte {
	return []byte("# The app, as harden lock resolves it with its dependencies into\n# requirements.lock. Pin it (==) to release a chosen version.\n" + p.Requirement + "\n")
}

// workflow renders the shipped GitHub Actions template for this project:
// its harden.yaml, its repository, and no manifest to pin. The harden
// version stays the template's, whose installer checksum goes with it.
func (p *project) workflow() ([]byte, error) {
	repo := "ghcr.io/${OWNER,,}/" + p.Name // GHCR names must be lower case
	if !p.Placeholder {
		repo = p.Repository
	}
	return renderWorkflow(string(examples.GitHubWorkflow()), repo)
}

func renderWorkflow(tmpl, repo string) ([]byte, error) {
	out := tmpl
	for _, r := range []struct {
		from, to string
		required bool
	}{
		{"--config image/harden.yaml", "--config harden.yaml", true},
		{`--repo "ghcr.io/${OWNER,,}/pgcli"`, `--repo "` + repo + `"`, true},
		{" --pin deploy/pgcli.yaml", "", false},
	} {
		if r.required && !strings.Contains(out, r.from) {
			return nil, fmt.Errorf("the workflow template has no %q to fill in; update internal/scaffold/render.go to the template", r.from)
		}
		out = strings.ReplaceAll(out, r.from, r.to)
	}
	if strings.Contains(out, "pgcli") {
		return nil, errors.New("the workflow template names pgcli where harden init cannot put the app; update internal/scaffold/render.go to the template")
	}
	return []byte(out), nil
}

// gitignore returns the .gitignore to write (nil: the existing one
// already ignores dist/) and whether an existing file was merged.
func gitignore(path string) ([]byte, bool, error) {
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return []byte("# harden's output (harden release --out dist)\ndist/\n"), false, nil
	case err != nil:
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	for _, l := range strings.Split(string(old), "\n") {
		switch strings.TrimSpace(l) {
		case "dist", "dist/", "/dist", "/dist/":
			return nil, false, nil
		}
	}
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		old = append(old, '\n')
	}
	return append(old, []byte("dist/\n")...), true, nil
}
