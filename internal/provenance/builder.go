package provenance

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"

	"github.com/harden-dev/harden/internal/errs"
)

// LocalBuilderID is the builder id of builds run outside a recognised CI
// system. Such provenance is SLSA Build L1 at most: nothing but the
// person running harden vouches for it.
const LocalBuilderID = "https://github.com/harden-dev/harden/builders/local@v1"

// Builder is who ran the build, as recorded in runDetails.builder and
// buildDefinition.internalParameters.
type Builder struct {
	// ID is the SLSA builder id: a URI naming the platform that ran the
	// build (the CI workflow or runner, or LocalBuilderID).
	ID string
	// Version maps component names to versions, e.g. {"harden": "v0.3.0"}.
	Version map[string]string
	// Internal are facts about the build host recorded as
	// internalParameters. They must never hold secrets or personal data
	// (host names, user names, tokens).
	Internal map[string]any
	// InvocationID identifies the CI run; "" when unknown (local builds),
	// in which case Statement derives a stable one from the build record.
	InvocationID string
}

// DetectBuilder works out the builder from the environment. getenv is
// os.Getenv in production (nil means os.Getenv); tests pass a map lookup.
//
// Only the variables named here are ever read, so tokens in the
// environment (ACTIONS_ID_TOKEN_REQUEST_TOKEN, CI_JOB_TOKEN, …) cannot end
// up in the provenance.
func DetectBuilder(getenv func(string) string, hardenVersion string) (Builder, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if hardenVersion == "" {
		return Builder{}, errors.New("detect builder: the harden version is empty; pass the version of the running binary")
	}
	b := Builder{
		Version: map[string]string{"harden": hardenVersion},
		// Facts about the harden binary itself, true on every host.
		Internal: map[string]any{
			"goos":      runtime.GOOS,
			"goarch":    runtime.GOARCH,
			"goVersion": runtime.Version(),
		},
	}
	var err error
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		err = detectGitHub(getenv, &b)
	case getenv("GITLAB_CI") == "true":
		err = detectGitLab(getenv, &b)
	default:
		b.ID = LocalBuilderID
		b.Internal["ci"] = false
	}
	if err != nil {
		return Builder{}, err
	}
	return b, nil
}

// detectGitHub fills b for a GitHub Actions job. The id names the
// workflow file at the ref it ran from, the invocation id the run attempt.
func detectGitHub(getenv func(string) string, b *Builder) error {
	e := envReader{getenv: getenv}
	server := e.url("GITHUB_SERVER_URL")
	workflowRef := e.need("GITHUB_WORKFLOW_REF")
	repo := e.need("GITHUB_REPOSITORY")
	runID := e.need("GITHUB_RUN_ID")
	attempt := e.need("GITHUB_RUN_ATTEMPT")
	if err := e.err("GitHub Actions (GITHUB_ACTIONS=true)"); err != nil {
		return err
	}
	b.ID = server + "/" + workflowRef
	b.InvocationID = fmt.Sprintf("%s/%s/actions/runs/%s/attempts/%s", server, repo, runID, attempt)
	b.Internal["ci"] = true
	putNonEmpty(b.Internal, "github", map[string]any{
		"event_name":          getenv("GITHUB_EVENT_NAME"),
		"repository_id":       getenv("GITHUB_REPOSITORY_ID"),
		"repository_owner_id": getenv("GITHUB_REPOSITORY_OWNER_ID"),
	})
	putNonEmpty(b.Internal, "runner", map[string]any{
		"os":          getenv("RUNNER_OS"),
		"arch":        getenv("RUNNER_ARCH"),
		"environment": getenv("RUNNER_ENVIRONMENT"),
	})
	return nil
}

// detectGitLab fills b for a GitLab CI job. The id names the runner, the
// invocation id the job. CI_RUNNER_DESCRIPTION is left out on purpose:
// on self-managed runners it is often a host name.
func detectGitLab(getenv func(string) string, b *Builder) error {
	e := envReader{getenv: getenv}
	server := e.url("CI_SERVER_URL")
	project := e.need("CI_PROJECT_PATH")
	runner := e.need("CI_RUNNER_ID")
	jobURL := e.need("CI_JOB_URL")
	if err := e.err("GitLab CI (GITLAB_CI=true)"); err != nil {
		return err
	}
	b.ID = fmt.Sprintf("%s/%s/-/runners/%s", server, project, runner)
	b.InvocationID = jobURL
	b.Internal["ci"] = true
	putNonEmpty(b.Internal, "gitlab", map[string]any{
		"pipeline_source": getenv("CI_PIPELINE_SOURCE"),
		"project_id":      getenv("CI_PROJECT_ID"),
		"pipeline_id":     getenv("CI_PIPELINE_ID"),
	})
	return nil
}

// envReader reads required variables and collects the missing or
// malformed ones, so one error names all of them.
type envReader struct {
	getenv   func(string) string
	problems []string
}

func (e *envReader) need(name string) string {
	v := e.getenv(name)
	if v == "" {
		e.problems = append(e.problems, name+" is not set")
	}
	return v
}

// url reads a required absolute http(s) URL and drops a trailing slash.
func (e *envReader) url(name string) string {
	v := e.need(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		e.problems = append(e.problems, fmt.Sprintf("%s=%q is not an http(s) URL", name, v))
		return ""
	}
	return strings.TrimRight(v, "/")
}

func (e *envReader) err(ci string) error {
	if len(e.problems) == 0 {
		return nil
	}
	return errs.Input(fmt.Errorf("detect builder: running in %s but %s; run harden in a CI job step that sets them, or unset the CI marker variable for a local build",
		ci, strings.Join(e.problems, ", ")))
}

// putNonEmpty sets m[key] to the non-empty entries of sub, if any.
func putNonEmpty(m map[string]any, key string, sub map[string]any) {
	for k, v := range sub {
		if v == "" {
			delete(sub, k)
		}
	}
	if len(sub) > 0 {
		m[key] = sub
	}
}
