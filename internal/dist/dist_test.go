package dist

import (
	"os"
	"strings"
	"testing"
)

func TestReadStateRefusesForeignFile(t *testing.T) {
	d := Dir(t.TempDir())
	st, err := d.ReadState()
	if err != nil || st.Schema != StateSchema || st.Digest != "" {
		t.Fatalf("missing state: %+v %v", st, err)
	}
	if err := os.WriteFile(d.State(), []byte(`{"schema":"other"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadState(); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("foreign state file: %v", err)
	}
}
