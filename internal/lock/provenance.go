package lock

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/wheel"
)

// Provenance comments record, under a pin, what harden lock verified of
// each locked file's upstream provenance (PEP 740 attestations). pip
// ignores them; Parse reads them into Requirement.Provenance and refuses a
// malformed one. One line per file, after the "# via" lines:
//
//	# provenance: <wheel filename> sha256:<hex> none
//	# provenance: <wheel filename> sha256:<hex> publisher=GitHub repository=<owner/repo> workflow=<file> [environment=<env>] log-index=<n> [integrated-time=<RFC 3339>] [timestamp=<RFC 3339>]
//
// Values are percent-encoded where they hold anything but letters, digits
// and ._~/@+:- (a space is %20).
const provenancePrefix = "provenance:"

// Publisher kinds a provenance comment may name: the PEP 740 Trusted
// Publishers whose certificate identity can be verified.
const (
	PublisherGitHub = "GitHub"
	PublisherGitLab = "GitLab"
	PublisherGoogle = "Google"
)

// timeLayout is how provenance comments write times: UTC, to the second.
const timeLayout = "2006-01-02T15:04:05Z"

// Publisher is a Trusted Publisher as a provenance comment names it.
type Publisher struct {
	Kind        string `json:"kind"`                  // PublisherGitHub, PublisherGitLab or PublisherGoogle
	Repository  string `json:"repository,omitempty"`  // GitHub owner/name, GitLab project path
	Workflow    string `json:"workflow,omitempty"`    // GitHub workflow file, GitLab CI configuration path
	Environment string `json:"environment,omitempty"` // the index's record of the deployment environment
	Email       string `json:"email,omitempty"`       // Google service account
}

// String names the publisher: "GitHub owner/repo release.yml (environment pypi)".
func (p Publisher) String() string {
	var s string
	switch p.Kind {
	case PublisherGoogle:
		s = p.Kind + " " + p.Email
	default:
		s = p.Kind + " " + p.Repository + " " + p.Workflow
	}
	if p.Environment != "" {
		s += " (environment " + p.Environment + ")"
	}
	return s
}

// Matches reports whether got is the publisher p pins: the same kind,
// repository, workflow and email, and the same environment when p names
// one.
func (p Publisher) Matches(got Publisher) bool {
	if p.Kind != got.Kind || p.Repository != got.Repository || p.Workflow != got.Workflow || p.Email != got.Email {
		return false
	}
	return p.Environment == "" || p.Environment == got.Environment
}

// FileProvenance is the upstream provenance harden lock verified for one
// locked file. Later stages (SBOM, provenance, policy input) find a
// wheel's entry by its sha256 with Requirement.ProvenanceOf.
type FileProvenance struct {
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"` // lowercase hex; one of the pin's hashes
	// Attested is true when every attestation of the file verified; false
	// records that the index offered none.
	Attested  bool      `json:"attested"`
	Publisher Publisher `json:"publisher,omitzero"`
	// LogIndex, IntegratedTime and Timestamp describe the first
	// attestation: its transparency log entry and when it was signed.
	// IntegratedTime is zero for logs without one (Rekor v2), whose
	// attestations carry an RFC 3161 Timestamp instead.
	LogIndex       int64     `json:"logIndex,omitempty"`
	IntegratedTime time.Time `json:"integratedTime,omitzero"`
	Timestamp      time.Time `json:"timestamp,omitzero"`
}

// ProvenanceOf returns the recorded provenance of the file with sha256
// hex digest sum.
func (r Requirement) ProvenanceOf(sum string) (FileProvenance, bool) {
	for _, p := range r.Provenance {
		if p.SHA256 == sum {
			return p, true
		}
	}
	return FileProvenance{}, false
}

// Comment renders the record as a lock comment, without the leading "# ".
func (fp FileProvenance) Comment() string {
	var b strings.Builder
	b.WriteString(provenancePrefix + " " + escapeValue(fp.Filename) + " sha256:" + fp.SHA256)
	if !fp.Attested {
		b.WriteString(" none")
		return b.String()
	}
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + escapeValue(v))
		}
	}
	p := fp.Publisher
	kv("publisher", p.Kind)
	kv("repository", p.Repository)
	kv("workflow", p.Workflow)
	kv("environment", p.Environment)
	kv("email", p.Email)
	kv("log-index", strconv.FormatInt(fp.LogIndex, 10))
	if !fp.IntegratedTime.IsZero() {
		kv("integrated-time", fp.IntegratedTime.UTC().Format(timeLayout))
	}
	if !fp.Timestamp.IsZero() {
		kv("timestamp", fp.Timestamp.UTC().Format(timeLayout))
	}
	return b.String()
}

// SortProvenance orders records by filename, then digest, as the lock
// writes them.
func SortProvenance(ps []FileProvenance) {
	slices.SortFunc(ps, func(a, b FileProvenance) int {
		if c := strings.Compare(a.Filename, b.Filename); c != 0 {
			return c
		}
		return strings.Compare(a.SHA256, b.SHA256)
	})
}

// parseProvenance reads the comment text after "provenance:" for pin r.
func parseProvenance(text string, r *Requirement) (FileProvenance, error) {
	toks := strings.Fields(text)
	if len(toks) < 3 {
		return FileProvenance{}, errors.New(`want "<wheel filename> sha256:<hex> none" or "<wheel filename> sha256:<hex> publisher=... log-index=..."`)
	}
	var fp FileProvenance
	fn, err := unescapeValue(toks[0])
	if err != nil {
		return fp, fmt.Errorf("filename: %w", err)
	}
	wf, err := wheel.ParseFilename(fn)
	if err != nil {
		return fp, err
	}
	if NormalizeName(wf.Name) != r.Key || !SameVersion(wf.Version, r.Version) {
		return fp, fmt.Errorf("%s is not a wheel of %s==%s", fn, r.Name, r.Version)
	}
	fp.Filename = fn
	sum, ok := strings.CutPrefix(toks[1], "sha256:")
	if !ok {
		return fp, fmt.Errorf("%q: want sha256:<hex> after the filename", toks[1])
	}
	if !slices.Contains(r.Hashes, sum) {
		return fp, fmt.Errorf("sha256:%s is not a --hash of %s==%s", sum, r.Name, r.Version)
	}
	if slices.ContainsFunc(r.Provenance, func(o FileProvenance) bool { return o.SHA256 == sum }) {
		return fp, fmt.Errorf("sha256:%s has two provenance comments", sum)
	}
	fp.SHA256 = sum
	if len(toks) == 3 && toks[2] == "none" {
		return fp, nil
	}
	fp.Attested = true
	seen := map[string]bool{}
	var logIndex bool
	for _, t := range toks[2:] {
		k, raw, ok := strings.Cut(t, "=")
		if !ok {
			return fp, fmt.Errorf("%q is not key=value", t)
		}
		if seen[k] {
			return fp, fmt.Errorf("%s is given twice", k)
		}
		seen[k] = true
		v, err := unescapeValue(raw)
		if err != nil {
			return fp, fmt.Errorf("%s: %w", k, err)
		}
		if v == "" {
			return fp, fmt.Errorf("%s is empty", k)
		}
		switch k {
		case "publisher":
			fp.Publisher.Kind = v
		case "repository":
			fp.Publisher.Repository = v
		case "workflow":
			fp.Publisher.Workflow = v
		case "environment":
			fp.Publisher.Environment = v
		case "email":
			fp.Publisher.Email = v
		case "log-index":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || strconv.FormatInt(n, 10) != v {
				return fp, fmt.Errorf("log-index %q is not a log index", v)
			}
			fp.LogIndex, logIndex = n, true
		case "integrated-time", "timestamp":
			tm, err := time.Parse(timeLayout, v)
			if err != nil {
				return fp, fmt.Errorf("%s %q is not a UTC time such as 2024-12-04T23:14:01Z", k, v)
			}
			if k == "timestamp" {
				fp.Timestamp = tm
			} else {
				fp.IntegratedTime = tm
			}
		default:
			return fp, fmt.Errorf("unknown key %q", k)
		}
	}
	if err := checkPublisher(fp.Publisher); err != nil {
		return fp, err
	}
	if !logIndex {
		return fp, errors.New("log-index is missing")
	}
	if fp.IntegratedTime.IsZero() && fp.Timestamp.IsZero() {
		return fp, errors.New("neither integrated-time nor timestamp is given")
	}
	return fp, nil
}

// checkPublisher requires the fields of the publisher's kind, and no others.
func checkPublisher(p Publisher) error {
	switch p.Kind {
	case PublisherGitHub, PublisherGitLab:
		if p.Repository == "" || p.Workflow == "" {
			return fmt.Errorf("a %s publisher needs repository= and workflow=", p.Kind)
		}
		if p.Email != "" {
			return fmt.Errorf("a %s publisher has no email", p.Kind)
		}
	case PublisherGoogle:
		if p.Email == "" {
			return errors.New("a Google publisher needs email=")
		}
		if p.Repository != "" || p.Workflow != "" {
			return errors.New("a Google publisher has no repository or workflow")
		}
	case "":
		return errors.New("publisher is missing")
	default:
		return fmt.Errorf("publisher %q is not GitHub, GitLab or Google", p.Kind)
	}
	return nil
}

// plainValue is a byte a provenance comment writes as is.
func plainValue(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._~/@+:-", c) >= 0
}

func escapeValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; plainValue(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// unescapeValue reverses escapeValue and refuses any other spelling, so
// that one record has one text.
func unescapeValue(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%q: incomplete %%-escape", s)
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("%q: bad %%-escape", s)
		}
		b.WriteByte(byte(n))
		i += 2
	}
	out := b.String()
	if escapeValue(out) != s {
		return "", fmt.Errorf("%q is not written as harden writes it (%s)", s, escapeValue(out))
	}
	return out, nil
}
