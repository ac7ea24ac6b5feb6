package admission

import (
	"fmt"
	"strings"

	"github.com/harden-dev/harden/internal/config"
	"github.com/harden-dev/harden/internal/errs"
)

// Engines lists the engines Generate writes for.
var Engines = []string{"gatekeeper"}

// ParamsFor governs the image harden.yaml describes.
func ParamsFor(c *config.Config) Params {
	p := Params{Name: c.Name}
	if c.Repository != "" {
		p.Repositories = []string{c.Repository}
	}
	return p
}

// Generate writes the policy for engine.
func Generate(engine string, p Params) ([]byte, error) {
	switch engine {
	case "":
		return nil, errs.Input(fmt.Errorf("name the engine with --engine (%s)", strings.Join(Engines, ", ")))
	case "gatekeeper":
		return Gatekeeper(p)
	}
	return nil, errs.Input(fmt.Errorf("--engine %q: harden generates policies for %s (Kyverno and Sigstore policy-controller policies are not generated yet)", engine, strings.Join(Engines, ", ")))
}
