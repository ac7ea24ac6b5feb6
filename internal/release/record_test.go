package release

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/dist"
)

const img = "ghcr.io/example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestKubectlRun(t *testing.T) {
	cases := []struct {
		name string
		run  config.Run
		want string
	}{
		{"no run section: the image alone", config.Run{},
			"kubectl run app --rm -it --restart=Never --image=" + img},
		{"the pgcli example of image/harden.yaml", config.Run{Args: []string{"--host", "$DB_HOST", "--port", "5432", "--username", "$DB_USER", "$DB_NAME"}},
			"kubectl run app --rm -it --restart=Never --image=" + img + ` -- --host "$DB_HOST" --port 5432 --username "$DB_USER" "$DB_NAME"`},
		{"env in name order, variables left to the shell", config.Run{Env: map[string]string{"PGHOST": "${DB_HOST}", "LANG": "C.UTF-8", "GREETING": "hello world"}, Args: []string{"-c", "--url=postgres://$DB_USER@db/x"}},
			"kubectl run app --rm -it --restart=Never --image=" + img + ` '--env=GREETING=hello world' --env=LANG=C.UTF-8 --env=PGHOST="${DB_HOST}" -- -c --url=postgres://"$DB_USER"@db/x`},
		{"everything else is literal", config.Run{Args: []string{"$(rm -rf /)", "it's", "$1", "pass!$X", "", "a;b", "`id`"}},
			"kubectl run app --rm -it --restart=Never --image=" + img + ` -- '$(rm -rf /)' 'it'"'"'s' '$1' 'pass!'"$X" '' 'a;b' '` + "`id`'"},
	}
	for _, c := range cases {
		if got := kubectlRun("app", img, c.run); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	// A shell reads the words back as written, with only the variables
	// expanded.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("skipping the shell round trip: no sh on PATH")
	}
	line := kubectlRun("app", img, cases[3].run)
	out, err := exec.Command(sh, "-c", "X=x; printf '%s\\n' "+strings.TrimPrefix(line, "kubectl ")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "run app --rm -it --restart=Never --image=" + img + " -- $(rm -rf /) it's $1 pass!x  a;b `id`"
	if got := strings.Join(strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"), " "); got != want {
		t.Errorf("the shell reads\n %s\nwant\n %s", got, want)
	}
	if got := kubectlRun("", img, config.Run{}); !strings.HasPrefix(got, "kubectl run app ") {
		t.Errorf("no name: %s", got)
	}
}

// The record's run line comes from harden.yaml's run: section, in
// release.json (valid against the schema) and release.md.
func TestRecordRunLine(t *testing.T) {
	for _, c := range []struct {
		name string
		run  config.Run
		tail string
	}{
		{"without run:", config.Run{}, "@" + "%s"},
		{"with run:", config.Run{Args: []string{"--help"}, Env: map[string]string{"MODE": "$MODE"}}, `@%s --env=MODE="$MODE" -- --help`},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			pr := w.project(repoA)
			pr.Config.Run = c.run
			out := t.TempDir()
			rec, _, err := Run(context.Background(), w.options(pr, out))
			if err != nil {
				t.Fatal(err)
			}
			want := "kubectl run app --rm -it --restart=Never --image=" + repoA + strings.Replace(c.tail, "%s", rec.Digest, 1)
			if rec.Deploy == nil || rec.Deploy.KubectlRun != want {
				t.Fatalf("deploy %+v, want kubectlRun %s", rec.Deploy, want)
			}
			md, err := os.ReadFile(dist.Dir(out).Summary())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(md), "```sh\n"+want+"\n```") {
				t.Errorf("release.md lacks the run line:\n%s", md)
			}
			if !runPattern(t).MatchString(want) {
				t.Errorf("the schema's kubectlRun pattern refuses %s", want)
			}
		})
	}
}

// runPattern is deploy.kubectlRun's pattern in
// docs/release-record.schema.json.
func runPattern(t *testing.T) *regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "release-record.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Deploy struct {
				Properties struct {
					KubectlRun struct {
						Pattern string `json:"pattern"`
					} `json:"kubectlRun"`
				} `json:"properties"`
			} `json:"deploy"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(s.Properties.Deploy.Properties.KubectlRun.Pattern)
}
