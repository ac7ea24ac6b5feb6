package pin

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/errs"
)

var (
	hexA = strings.Repeat("a", 64)
	hexB = strings.Repeat("b", 64)
	hexC = strings.Repeat("c", 64)
	digA = "sha256:" + hexA
	digB = "sha256:" + hexB
	digC = "sha256:" + hexC
)

var deployYAML = `# app manifests
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    note: "image: not-a-ref:1"
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: "ghcr.io/acme/migrate:v1.4.0" # runs first
      containers:
        - name: web
          image: nginx:1.25.3
          ports:
            - containerPort: 80
        - image: 'docker.io/library/redis:7@` + digA + `'
          name: cache
        # - name: old
        #   image: busybox:1.36
        - {name: sidecar, image: "envoyproxy/envoy:v1.29.0"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  values.yaml: |
    image: embedded:1.0
  other: x
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: registry.example.com:5000/tools/report@` + digB + `
              args: ["--image", "image: fake:1"]
              env:
                - name: IMAGE
                  value: python:3.12
          restartPolicy: OnFailure
`

const helmYAML = `---
# Source: mychart/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: rel-mychart
---
# Source: mychart/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-mychart
  labels:
    helm.sh/chart: mychart-0.1.0
    app.kubernetes.io/version: "1.16.0"
spec:
  template:
    spec:
      containers:
        - name: mychart
          securityContext:
            {}
          image: "nginx:1.16.0"
          imagePullPolicy: IfNotPresent
---
# Source: mychart/templates/tests/test-connection.yaml
apiVersion: v1
kind: Pod
metadata:
  name: "rel-mychart-test-connection"
  annotations:
    "helm.sh/hook": test
spec:
  containers:
    - name: wget
      image: busybox
      command: ['wget']
      args: ['rel-mychart:80']
  restartPolicy: Never
`

var dockerfile = `# syntax=docker/dockerfile:1
ARG BASE=python:3.12-slim
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app ./cmd/app

FROM ${BASE} AS runtime-base

from node:20-alpine as Assets
RUN npm ci \
    && npm run build
# FROM commented:1
FROM runtime-base
COPY --from=build /out/app /usr/local/bin/app
COPY --from=assets /dist /srv/www
COPY --from=0 /out/app /app2
COPY --chown=app:app --from=gcr.io/distroless/static-debian12:nonroot@` + digC + ` /etc/passwd /etc/passwd
COPY --from=busybox:1.36 /bin/busybox /bin/busybox
RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=alpine:3.19,source=/etc,target=/x true
COPY <<EOF /etc/motd
FROM heredoc:1
EOF
FROM scratch AS empty
FROM \
# a comment inside the instruction
    alpine:3.19
`

func yref(line, col int, text string, pinned bool) Ref {
	return Ref{Line: line, Column: col, Text: text, Pinned: pinned, Kind: KindYAML}
}

func dref(line, col int, text string, pinned bool) Ref {
	return Ref{Line: line, Column: col, Text: text, Pinned: pinned, Kind: KindDockerfile}
}

func TestFind(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		content string
		want    []Ref
	}{
		{
			name:    "deployment and cronjob",
			kind:    KindYAML,
			content: deployYAML,
			want: []Ref{
				yref(13, 19, "ghcr.io/acme/migrate:v1.4.0", false),
				yref(16, 18, "nginx:1.25.3", false),
				yref(19, 19, "docker.io/library/redis:7@"+digA, true),
				yref(23, 35, "envoyproxy/envoy:v1.29.0", false),
				yref(46, 22, "registry.example.com:5000/tools/report@"+digB, true),
			},
		},
		{
			name:    "helm rendered",
			kind:    KindYAML,
			content: helmYAML,
			want: []Ref{
				yref(23, 19, "nginx:1.16.0", false),
				yref(36, 14, "busybox", false),
			},
		},
		{
			name:    "dockerfile",
			kind:    KindDockerfile,
			content: dockerfile,
			want: []Ref{
				dref(3, 32, "golang:1.22", false),
				dref(10, 6, "node:20-alpine", false),
				dref(18, 29, "gcr.io/distroless/static-debian12:nonroot@"+digC, true),
				dref(19, 13, "busybox:1.36", false),
				dref(20, 67, "alpine:3.19", false),
				dref(27, 5, "alpine:3.19", false),
			},
		},
		{
			name: "yaml values that are not references",
			kind: KindYAML,
			content: `image: {{ .Values.image }}
image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
image: ${IMAGE}
image: $(IMAGE)
image:
  repository: nginx
  tag: "1.25"
image: null
image: ~
image: 42
image: ""
image: |
  nginx:1.25
image: >-
  nginx:1.25
image: "esc\u0061ped:1"
image: 'it''s:1'
image: "multi
  image: inside-quote:1"
# image: commented:1
images: notkey:1
myimage: notkey:2
description: "image: inside:1"
`,
			want: nil,
		},
		{
			name: "yaml spellings",
			kind: KindYAML,
			content: "image:\tnginx:1 #c\r\n" +
				`- - image: nested:1
"image": "json:1",
'image' : single-key:1
image: !!str tagged:1
image: &img anchored:1
spec: {containers: [{name: a, image: flow-a:1}, {image: 'flow-b:1', name: b}]}
image: trailing:1    
x: [image: pair:1]
` + bom + "image: not-first-line:1\n",
			want: []Ref{
				yref(1, 8, "nginx:1", false),
				yref(2, 12, "nested:1", false),
				yref(3, 11, "json:1", false),
				yref(4, 11, "single-key:1", false),
				yref(5, 14, "tagged:1", false),
				yref(6, 13, "anchored:1", false),
				yref(7, 38, "flow-a:1", false),
				yref(7, 58, "flow-b:1", false),
				yref(8, 8, "trailing:1", false),
				yref(9, 12, "pair:1", false),
			},
		},
		{
			name: "yaml block scalar ends at dedent",
			kind: KindYAML,
			content: `script: |
  image: inside:1

  more text
image: after:1
- cmd: >
    image: inside:2
  image: sibling:1
`,
			want: []Ref{
				yref(5, 8, "after:1", false),
				yref(8, 10, "sibling:1", false),
			},
		},
		{
			name: "dockerfile escape directive and odd spellings",
			kind: KindDockerfile,
			content: "\ufeff# escape=`\r\n" +
				"FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS base\r\n" +
				"RUN dir `\r\n" +
				"  && echo FROM notanimage:1\r\n" +
				"FROM base\r\n" +
				"ONBUILD COPY --from=onbuild:1 /a /b\r\n" +
				"FROM ngi`\r\nnx:1\r\n" +
				"copy --FROM=upper:1 /a /b\r\n" +
				"RUN <<-EOT cat\r\n\tFROM heredoc:2\r\n\tEOT\r\n" +
				"FROM after-heredoc:1\r\n",
			want: []Ref{
				dref(2, 6, "mcr.microsoft.com/windows/servercore:ltsc2022", false),
				dref(6, 21, "onbuild:1", false),
				dref(9, 13, "upper:1", false),
				dref(13, 6, "after-heredoc:1", false),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find([]byte(tt.content), tt.kind)
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Find mismatch\n got: %+v\nwant: %+v", got, tt.want)
			}
			for _, r := range got {
				if !strings.HasPrefix(lineAt(tt.content, r.Line)[r.Column-1:], r.Text) {
					t.Errorf("%+v: text not at its line and column", r)
				}
			}
		})
	}
}

func lineAt(content string, n int) string {
	return strings.Split(content, "\n")[n-1]
}

func TestFindUnknownKind(t *testing.T) {
	_, err := Find([]byte("image: x"), "json")
	if err == nil || errs.ExitCode(err) != errs.CodeInput {
		t.Fatalf("want input error, got %v", err)
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"Dockerfile", KindDockerfile},
		{"build/Dockerfile", KindDockerfile},
		{"Containerfile", KindDockerfile},
		{"api.Dockerfile", KindDockerfile},
		{"Dockerfile.prod", KindDockerfile},
		{"deploy/app.yaml", KindYAML},
		{"chart/out.YML", KindYAML},
		{"Dockerfile.yaml", KindYAML},
		{"Dockerfile.dockerignore", ""},
		{"main.go", ""},
		{"values.json", ""},
	}
	for _, tt := range tests {
		got, err := KindOf(tt.path)
		if tt.want == "" {
			if err == nil || errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "Dockerfile.*") {
				t.Errorf("KindOf(%q) = %q, %v; want input error naming understood names", tt.path, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("KindOf(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

func TestRewrite(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		repo    string
		in      string
		want    string
		changes []Change
	}{
		{
			name: "yaml crlf keeps every other byte",
			kind: KindYAML,
			repo: "python",
			in: "containers:\r\n" +
				"  - name: app\r\n" +
				"    image: python:3.11 # base image\r\n" +
				"  - image: \"docker.io/library/python:3.11@" + digA + "\"\r\n" +
				"  - image: 'python'\r\n" +
				"  - image: pythonista:1\r\n" +
				"  - {name: x, image: index.docker.io/library/python:3}   # flow\r\n" +
				"  - image: ghcr.io/python:3.11\r\n" +
				"# image: python:3.11\r\n",
			want: "containers:\r\n" +
				"  - name: app\r\n" +
				"    image: python@" + digB + " # base image\r\n" +
				"  - image: \"docker.io/library/python@" + digB + "\"\r\n" +
				"  - image: 'python@" + digB + "'\r\n" +
				"  - image: pythonista:1\r\n" +
				"  - {name: x, image: index.docker.io/library/python@" + digB + "}   # flow\r\n" +
				"  - image: ghcr.io/python:3.11\r\n" +
				"# image: python:3.11\r\n",
			changes: []Change{
				{3, "python:3.11", "python@" + digB},
				{4, "docker.io/library/python:3.11@" + digA, "docker.io/library/python@" + digB},
				{5, "python", "python@" + digB},
				{7, "index.docker.io/library/python:3", "index.docker.io/library/python@" + digB},
			},
		},
		{
			name: "dockerfile with registry port",
			kind: KindDockerfile,
			repo: "localhost:5000/team/base",
			in: "FROM --platform=$BUILDPLATFORM localhost:5000/team/base:1 AS build\n" +
				"COPY --from=localhost:5000/team/base /a /b\n" +
				"FROM localhost:5000/team/other:1\n" +
				"FROM build\n",
			want: "FROM --platform=$BUILDPLATFORM localhost:5000/team/base@" + digB + " AS build\n" +
				"COPY --from=localhost:5000/team/base@" + digB + " /a /b\n" +
				"FROM localhost:5000/team/other:1\n" +
				"FROM build\n",
			changes: []Change{
				{1, "localhost:5000/team/base:1", "localhost:5000/team/base@" + digB},
				{2, "localhost:5000/team/base", "localhost:5000/team/base@" + digB},
			},
		},
		{
			name: "already at digest",
			kind: KindYAML,
			repo: "nginx",
			in:   "image: nginx@" + digB + "\nimage: redis:7\n",
			want: "image: nginx@" + digB + "\nimage: redis:7\n",
		},
		{
			name: "no trailing newline",
			kind: KindYAML,
			repo: "nginx",
			in:   "image: nginx",
			want: "image: nginx@" + digB,
			changes: []Change{
				{1, "nginx", "nginx@" + digB},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := name.NewRepository(tt.repo)
			if err != nil {
				t.Fatal(err)
			}
			in := []byte(tt.in)
			got, changes, err := Rewrite(in, tt.kind, repo, digB)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("content mismatch\n got: %q\nwant: %q", got, tt.want)
			}
			if !reflect.DeepEqual(changes, tt.changes) {
				t.Errorf("changes mismatch\n got: %+v\nwant: %+v", changes, tt.changes)
			}
			if string(in) != tt.in {
				t.Error("Rewrite modified its input")
			}
			refs, err := Find(got, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range refs {
				ref, _ := name.ParseReference(r.Text)
				if ref.Context().Name() == repo.Name() && (!r.Pinned || !strings.HasSuffix(r.Text, "@"+digB)) {
					t.Errorf("after rewrite %+v is not pinned to the new digest", r)
				}
			}
		})
	}
}

func TestRewriteErrors(t *testing.T) {
	repo, _ := name.NewRepository("nginx")
	for _, d := range []string{"", hexA, "sha256:" + hexA[:63], "sha256:" + strings.ToUpper(hexA), "sha512:" + hexA, "sha256:" + hexA + "0"} {
		_, _, err := Rewrite([]byte("image: nginx\n"), KindYAML, repo, d)
		if err == nil || errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "64 lowercase hex") {
			t.Errorf("digest %q: want input error about the digest, got %v", d, err)
		}
	}
	if _, _, err := Rewrite([]byte("image: nginx\n"), "toml", repo, digA); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("unknown kind: want input error, got %v", err)
	}
	if _, _, err := Rewrite([]byte("image: nginx\n"), KindYAML, name.Repository{}, digA); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("empty repository: want input error, got %v", err)
	}
}

// fakeResolver answers from a map keyed by the reference's full name and
// counts lookups.
type fakeResolver struct {
	t       *testing.T
	digests map[string]string
	calls   map[string]int
}

var errNotFound = errors.New("manifest unknown")

func (f *fakeResolver) resolve(ctx context.Context, ref name.Reference) (string, error) {
	if ctx == nil {
		f.t.Error("resolver got a nil context")
	}
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[ref.Name()]++
	if _, ok := ref.(name.Tag); !ok {
		f.t.Errorf("resolver asked for non-tag %s", ref)
	}
	d, ok := f.digests[ref.Name()]
	if !ok {
		return "", errNotFound
	}
	return d, nil
}

func TestPinAll(t *testing.T) {
	in := "containers:\n" +
		"  - image: nginx:1.25 # web\n" +
		"  - image: \"nginx:1.25\"\n" +
		"  - image: docker.io/library/nginx:1.25\n" +
		"  - image: redis@" + digC + "\n" +
		"  - image: 'redis:7@" + digC + "'\n" +
		"  - image: ghcr.io/acme/app\n"
	want := "containers:\n" +
		"  - image: nginx@" + digA + " # web\n" +
		"  - image: \"nginx@" + digA + "\"\n" +
		"  - image: docker.io/library/nginx@" + digA + "\n" +
		"  - image: redis@" + digC + "\n" +
		"  - image: 'redis@" + digC + "'\n" +
		"  - image: ghcr.io/acme/app@" + digB + "\n"
	f := &fakeResolver{t: t, digests: map[string]string{
		"index.docker.io/library/nginx:1.25": digA,
		"ghcr.io/acme/app:latest":            digB,
	}}
	got, changes, err := PinAll(context.Background(), []byte(in), KindYAML, f.resolve)
	if err != nil {
		t.Fatalf("PinAll: %v", err)
	}
	if string(got) != want {
		t.Errorf("content mismatch\n got: %q\nwant: %q", got, want)
	}
	wantChanges := []Change{
		{2, "nginx:1.25", "nginx@" + digA},
		{3, "nginx:1.25", "nginx@" + digA},
		{4, "docker.io/library/nginx:1.25", "docker.io/library/nginx@" + digA},
		{6, "redis:7@" + digC, "redis@" + digC},
		{7, "ghcr.io/acme/app", "ghcr.io/acme/app@" + digB},
	}
	if !reflect.DeepEqual(changes, wantChanges) {
		t.Errorf("changes mismatch\n got: %+v\nwant: %+v", changes, wantChanges)
	}
	wantCalls := map[string]int{"index.docker.io/library/nginx:1.25": 1, "ghcr.io/acme/app:latest": 1}
	if !reflect.DeepEqual(f.calls, wantCalls) {
		t.Errorf("lookups = %v, want %v", f.calls, wantCalls)
	}
}

func TestPinAllPinnedNoLookup(t *testing.T) {
	tests := []struct {
		name, kind, in, want string
	}{
		{
			name: "yaml",
			kind: KindYAML,
			in:   "image: redis@" + digC + "\nimage: 'gcr.io/x/y:1@" + digA + "'\n",
			want: "image: redis@" + digC + "\nimage: 'gcr.io/x/y@" + digA + "'\n",
		},
		{
			name: "dockerfile",
			kind: KindDockerfile,
			in:   "FROM redis@" + digC + " AS r\nCOPY --from=r /a /b\nFROM scratch\n",
			want: "FROM redis@" + digC + " AS r\nCOPY --from=r /a /b\nFROM scratch\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			resolve := func(context.Context, name.Reference) (string, error) {
				called = true
				return digB, nil
			}
			got, _, err := PinAll(context.Background(), []byte(tt.in), tt.kind, resolve)
			if err != nil {
				t.Fatal(err)
			}
			if called {
				t.Error("resolver was called for pinned references")
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPinAllErrors(t *testing.T) {
	f := &fakeResolver{t: t, digests: map[string]string{
		"index.docker.io/library/nginx:1": digA,
		"index.docker.io/library/bad:1":   "sha256:short",
	}}
	in := []byte("FROM nginx:1\nFROM ghcr.io/acme/missing:2\n")
	out, changes, err := PinAll(context.Background(), in, KindDockerfile, f.resolve)
	if !errors.Is(err, errNotFound) {
		t.Fatalf("want wrapped resolver error, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "ghcr.io/acme/missing:2") || !strings.Contains(msg, "line 2") {
		t.Errorf("error does not name the reference and line: %v", err)
	}
	if out != nil || changes != nil {
		t.Errorf("partial result on error: %q %v", out, changes)
	}

	_, _, err = PinAll(context.Background(), []byte("image: bad:1\n"), KindYAML, f.resolve)
	if err == nil || !strings.Contains(err.Error(), "bad:1") || !strings.Contains(err.Error(), "sha256:short") {
		t.Errorf("want error for a bad resolved digest, got %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = PinAll(ctx, []byte("image: nginx:1\n"), KindYAML, f.resolve)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled, got %v", err)
	}

	if _, _, err := PinAll(context.Background(), []byte("x"), "ini", f.resolve); errs.ExitCode(err) != errs.CodeInput {
		t.Errorf("unknown kind: want input error, got %v", err)
	}
}

func FuzzFind(f *testing.F) {
	seeds := []struct {
		content    string
		dockerfile bool
	}{
		{deployYAML, false},
		{helmYAML, false},
		{dockerfile, true},
		{"image: {name: [a, 'b'], image: \"c:1\"}\r\n", false},
		{"FROM a \\\n\\\nAS b\nCOPY --from=b:1 x y\n", true},
		{"x: |\n image: a\n- image: \"unterminated\n", false},
	}
	for _, s := range seeds {
		f.Add([]byte(s.content), s.dockerfile)
	}
	nomatch, err := name.NewRepository("example.invalid/fuzz/no-match")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content []byte, isDockerfile bool) {
		kind := KindYAML
		if isDockerfile {
			kind = KindDockerfile
		}
		refs, err := Find(content, kind)
		if err != nil {
			t.Fatalf("Find: %v", err)
		}
		lines := bytes.Split(content, []byte("\n"))
		for _, r := range refs {
			if r.Line < 1 || r.Line > len(lines) || r.Column < 1 || !bytes.HasPrefix(lines[r.Line-1][r.Column-1:], []byte(r.Text)) {
				t.Fatalf("ref %+v is not at its position", r)
			}
		}
		out, changes, err := Rewrite(content, kind, nomatch, digA)
		if err != nil || len(changes) != 0 || !bytes.Equal(out, content) {
			t.Fatalf("Rewrite with no match changed content: %v %v", changes, err)
		}
		if len(refs) == 0 {
			return
		}
		ref, err := name.ParseReference(refs[0].Text)
		if err != nil {
			t.Fatalf("reported ref %q does not parse: %v", refs[0].Text, err)
		}
		out, _, err = Rewrite(content, kind, ref.Context(), digA)
		if err != nil {
			t.Fatalf("Rewrite: %v", err)
		}
		after, err := Find(out, kind)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(refs) {
			t.Fatalf("rewrite changed the number of refs: %d -> %d\n%q", len(refs), len(after), out)
		}
		for _, r := range after {
			p, _ := name.ParseReference(r.Text)
			if p.Context().Name() == ref.Context().Name() && !r.Pinned {
				t.Fatalf("ref %+v not pinned after rewrite", r)
			}
		}
	})
}
