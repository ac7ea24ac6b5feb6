package examples

import (
	"bytes"
	"os"
	"testing"
)

func TestEmbeddedTemplatesAreTheFiles(t *testing.T) {
	for file, got := range map[string][]byte{"github/release.yml": GitHubWorkflow(), "gitlab-ci.yml": GitLabCI()} {
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || !bytes.Equal(got, want) {
			t.Errorf("embedded %s (%d bytes) differs from the file (%d bytes)", file, len(got), len(want))
		}
	}
	if !bytes.Contains(GitHubWorkflow(), []byte("--github-workflow "+GitHubWorkflowPath)) {
		t.Errorf("the workflow does not verify its own path %s", GitHubWorkflowPath)
	}
}
