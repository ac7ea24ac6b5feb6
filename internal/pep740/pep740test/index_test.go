package pep740test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/harden-dev/harden/internal/wheel/wheeltest"
)

// The index names provenance only for the files given one, and serves it
// at the URL it names and through the Integrity API of that file alone.
func TestIndexServesProvenance(t *testing.T) {
	dir := t.TempDir()
	wheeltest.Write(t, dir, "six-1.16.0-py3-none-any.whl", "six", "1.16.0")
	wheeltest.Write(t, dir, "Tabulate-0.8.9-py3-none-any.whl", "tabulate", "0.8.9")
	ix, err := NewIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix.SetProvenance("six-1.16.0-py3-none-any.whl", []byte(`{"version":1}`))
	srv := httptest.NewServer(ix.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var page struct {
		Files []struct {
			Filename   string
			Provenance *string
		}
	}
	for project, want := range map[string]*string{"six": ptr("../../provenance/six-1.16.0-py3-none-any.whl"), "tabulate": nil} {
		code, body := get("/simple/" + project + "/")
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || len(page.Files) != 1 {
			t.Fatalf("%s: %d %s", project, code, body)
		}
		if got := page.Files[0].Provenance; (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Errorf("%s: provenance %v, want %v", project, got, want)
		}
	}
	for path, want := range map[string]int{
		"/provenance/six-1.16.0-py3-none-any.whl":                              200,
		"/integrity/six/1.16.0/six-1.16.0-py3-none-any.whl/provenance":         200,
		"/integrity/six/1.15.0/six-1.16.0-py3-none-any.whl/provenance":         404,
		"/integrity/tabulate/0.8.9/six-1.16.0-py3-none-any.whl/provenance":     404,
		"/integrity/tabulate/0.8.9/Tabulate-0.8.9-py3-none-any.whl/provenance": 404,
		"/files/six-1.16.0-py3-none-any.whl":                                   200,
		"/files/..%2fetc%2fpasswd":                                             404,
		"/simple/Six/":                                                         404,
	} {
		if code, _ := get(path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}

func ptr(s string) *string { return &s }
