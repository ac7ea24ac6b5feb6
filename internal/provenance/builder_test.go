package provenance

import (
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/errs"
)

func githubEnv() map[string]string {
	return map[string]string{
		"GITHUB_ACTIONS":             "true",
		"GITHUB_SERVER_URL":          "https://github.com",
		"GITHUB_WORKFLOW_REF":        "org/repo/.github/workflows/release.yml@refs/heads/main",
		"GITHUB_REPOSITORY":          "org/repo",
		"GITHUB_RUN_ID":              "123456",
		"GITHUB_RUN_ATTEMPT":         "2",
		"GITHUB_EVENT_NAME":          "push",
		"GITHUB_REPOSITORY_ID":       "42",
		"GITHUB_REPOSITORY_OWNER_ID": "7",
		"RUNNER_OS":                  "Linux",
		"RUNNER_ARCH":                "X64",
		"RUNNER_ENVIRONMENT":         "github-hosted",
	}
}

func gitlabEnv() map[string]string {
	return map[string]string{
		"GITLAB_CI":          "true",
		"CI_SERVER_URL":      "https://gitlab.example.com/",
		"CI_PROJECT_PATH":    "group/pgcli",
		"CI_RUNNER_ID":       "99",
		"CI_JOB_URL":         "https://gitlab.example.com/group/pgcli/-/jobs/555",
		"CI_PIPELINE_SOURCE": "push",
		"CI_PROJECT_ID":      "31",
		"CI_PIPELINE_ID":     "1001",
	}
}

// with returns a copy of env with the given changes; "" deletes.
func with(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func hostFacts(extra map[string]any) map[string]any {
	m := map[string]any{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "goVersion": runtime.Version()}
	maps.Copy(m, extra)
	return m
}

func TestDetectBuilder(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Builder
		wantErr []string // substrings of the error; nil = success
	}{
		{
			name: "github actions",
			env:  githubEnv(),
			want: Builder{
				ID:           "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main",
				InvocationID: "https://github.com/org/repo/actions/runs/123456/attempts/2",
				Internal: hostFacts(map[string]any{
					"ci":     true,
					"github": map[string]any{"event_name": "push", "repository_id": "42", "repository_owner_id": "7"},
					"runner": map[string]any{"os": "Linux", "arch": "X64", "environment": "github-hosted"},
				}),
			},
		},
		{
			name: "github actions without optional facts",
			env: with(githubEnv(), "GITHUB_EVENT_NAME", "", "GITHUB_REPOSITORY_ID", "", "GITHUB_REPOSITORY_OWNER_ID", "",
				"RUNNER_OS", "", "RUNNER_ARCH", "", "RUNNER_ENVIRONMENT", ""),
			want: Builder{
				ID:           "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main",
				InvocationID: "https://github.com/org/repo/actions/runs/123456/attempts/2",
				Internal:     hostFacts(map[string]any{"ci": true}),
			},
		},
		{name: "github missing server url", env: with(githubEnv(), "GITHUB_SERVER_URL", ""), wantErr: []string{"GITHUB_SERVER_URL is not set"}},
		{name: "github missing workflow ref", env: with(githubEnv(), "GITHUB_WORKFLOW_REF", ""), wantErr: []string{"GITHUB_WORKFLOW_REF is not set"}},
		{name: "github missing repository", env: with(githubEnv(), "GITHUB_REPOSITORY", ""), wantErr: []string{"GITHUB_REPOSITORY is not set"}},
		{name: "github missing run id", env: with(githubEnv(), "GITHUB_RUN_ID", ""), wantErr: []string{"GITHUB_RUN_ID is not set"}},
		{name: "github missing run attempt", env: with(githubEnv(), "GITHUB_RUN_ATTEMPT", ""), wantErr: []string{"GITHUB_RUN_ATTEMPT is not set"}},
		{name: "github server url not a url", env: with(githubEnv(), "GITHUB_SERVER_URL", "github.com"), wantErr: []string{`GITHUB_SERVER_URL="github.com" is not an http(s) URL`}},
		{
			name:    "github names every missing variable",
			env:     with(githubEnv(), "GITHUB_RUN_ID", "", "GITHUB_RUN_ATTEMPT", ""),
			wantErr: []string{"GITHUB_RUN_ID is not set", "GITHUB_RUN_ATTEMPT is not set", "GitHub Actions"},
		},
		{
			name: "gitlab ci",
			env:  gitlabEnv(),
			want: Builder{
				ID:           "https://gitlab.example.com/group/pgcli/-/runners/99",
				InvocationID: "https://gitlab.example.com/group/pgcli/-/jobs/555",
				Internal: hostFacts(map[string]any{
					"ci":     true,
					"gitlab": map[string]any{"pipeline_source": "push", "project_id": "31", "pipeline_id": "1001"},
				}),
			},
		},
		{name: "gitlab missing server url", env: with(gitlabEnv(), "CI_SERVER_URL", ""), wantErr: []string{"CI_SERVER_URL is not set", "GitLab CI"}},
		{name: "gitlab missing project path", env: with(gitlabEnv(), "CI_PROJECT_PATH", ""), wantErr: []string{"CI_PROJECT_PATH is not set"}},
		{name: "gitlab missing runner id", env: with(gitlabEnv(), "CI_RUNNER_ID", ""), wantErr: []string{"CI_RUNNER_ID is not set"}},
		{name: "gitlab missing job url", env: with(gitlabEnv(), "CI_JOB_URL", ""), wantErr: []string{"CI_JOB_URL is not set"}},
		{
			name: "local",
			env:  map[string]string{"HOME": "/home/someone", "USER": "someone", "HOSTNAME": "laptop"},
			want: Builder{ID: LocalBuilderID, Internal: hostFacts(map[string]any{"ci": false})},
		},
		{
			// Only the exact value "true" selects a CI system.
			name: "ci marker not true is local",
			env:  map[string]string{"GITHUB_ACTIONS": "1", "GITLAB_CI": "false"},
			want: Builder{ID: LocalBuilderID, Internal: hostFacts(map[string]any{"ci": false})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DetectBuilder(lookup(tt.env), "v0.3.0")
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("DetectBuilder succeeded with %+v, want an error", got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if errs.ExitCode(err) != errs.CodeInput {
					t.Errorf("exit code %d, want %d", errs.ExitCode(err), errs.CodeInput)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Version = map[string]string{"harden": "v0.3.0"}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDetectBuilderNeedsVersion(t *testing.T) {
	if _, err := DetectBuilder(lookup(nil), ""); err == nil {
		t.Fatal("an empty harden version was accepted")
	}
}

func TestDetectBuilderIgnoresHostIdentity(t *testing.T) {
	env := map[string]string{"HOSTNAME": "secret-laptop-name", "USER": "secret-user-name", "LOGNAME": "secret-user-name"}
	b, err := DetectBuilder(lookup(env), "v0.3.0")
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.ToLower(fmt.Sprint(b)); strings.Contains(s, "secret-") {
		t.Errorf("builder records the host or user name: %s", s)
	}
}

func lookup(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}
