package config

import (
	"errors"
	"strings"
	"testing"
)

// Seeds live in testdata/fuzz/FuzzConfigParse/.
func FuzzConfigParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error is not a located *Error: %T %v", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		if _, err := c.BaseRef(); err != nil {
			t.Fatalf("accepted config has a bad base: %v", err)
		}
		if len(c.Platforms) == 0 || c.User.UID <= 0 || c.User.GID <= 0 || c.Index.URL == "" {
			t.Fatalf("defaults missing: %+v", c)
		}
		for _, s := range c.Smoke {
			if s.Timeout.Duration <= 0 || s.Name == "" {
				t.Fatalf("bad smoke test %+v", s)
			}
		}
	})
}
