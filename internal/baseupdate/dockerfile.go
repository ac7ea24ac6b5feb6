package baseupdate

import (
	"bytes"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/harden-dev/harden/internal/config"
)

// rewriteFrom points every FROM line of a Dockerfile whose image is in
// repo (however it is spelled, with or without a tag or digest) at
// :tag@digest. Only the image word changes: flags such as --platform=,
// "AS stage" and the spacing around them are kept. It returns the new
// content, the changed lines and how many FROM lines matched repo.
func rewriteFrom(data []byte, repo name.Repository, tag, digest string) ([]byte, []config.LineChange, int) {
	var out bytes.Buffer
	var changes []config.LineChange
	matched := 0
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, raw := range lines {
		start, end, spelled, ok := fromImage(raw)
		if !ok || !sameRepo(spelled, repo) {
			out.Write(raw)
			continue
		}
		matched++
		nl := append(append(append([]byte{}, raw[:start]...), spelled+":"+tag+"@"+digest...), raw[end:]...)
		out.Write(nl)
		if !bytes.Equal(nl, raw) {
			changes = append(changes, config.LineChange{Line: i + 1, Old: lineText(raw), New: lineText(nl)})
		}
	}
	return out.Bytes(), changes, matched
}

// fromImage finds the image word of a FROM instruction: its byte span in
// line and the repository as written (without tag or digest).
func fromImage(line []byte) (start, end int, repo string, ok bool) {
	words := wordSpans(line)
	if len(words) < 2 || !strings.EqualFold(string(line[words[0][0]:words[0][1]]), "FROM") {
		return 0, 0, "", false
	}
	for _, w := range words[1:] {
		word := string(line[w[0]:w[1]])
		if strings.HasPrefix(word, "--") {
			continue // --platform=… and other flags
		}
		if strings.Contains(word, "$") {
			return 0, 0, "", false // ARG-substituted: not ours to rewrite
		}
		return w[0], w[1], stripTagDigest(word), true
	}
	return 0, 0, "", false
}

// stripTagDigest drops "@digest" and ":tag" from an image reference.
func stripTagDigest(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

func sameRepo(spelled string, repo name.Repository) bool {
	r, err := name.NewRepository(spelled)
	return err == nil && r.Name() == repo.Name()
}

// wordSpans splits line at spaces and tabs, returning [start, end) pairs.
func wordSpans(line []byte) [][2]int {
	var spans [][2]int
	start := -1
	for i, c := range line {
		space := c == ' ' || c == '\t' || c == '\r' || c == '\n'
		switch {
		case space && start >= 0:
			spans = append(spans, [2]int{start, i})
			start = -1
		case !space && start < 0:
			start = i
		}
	}
	if start >= 0 {
		spans = append(spans, [2]int{start, len(line)})
	}
	return spans
}

func lineText(b []byte) string { return strings.TrimRight(string(b), "\r\n") }
