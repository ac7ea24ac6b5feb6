// Package examples ships the CI templates, so that commands can write them
// into a project.
package examples

import _ "embed"

// GitHubWorkflowPath is where the GitHub workflow goes in a project: the
// signing identity that its verify step checks names this path.
const GitHubWorkflowPath = ".github/workflows/release.yml"

//go:embed github/release.yml
var githubWorkflow string

//go:embed gitlab-ci.yml
var gitlabCI string

// GitHubWorkflow returns the GitHub Actions release workflow, to be written
// to GitHubWorkflowPath.
func GitHubWorkflow() []byte { return []byte(githubWorkflow) }

// GitLabCI returns the GitLab CI release job, to be written to .gitlab-ci.yml.
func GitLabCI() []byte { return []byte(gitlabCI) }
