// Package policy holds the Rego policies harden verify applies by
// default (pgcli.rego) and their tests (*_test.rego, run by `opa test
// policy/` and by internal/policy's Go tests).
package policy

import "embed"

// FS holds every .rego file of this directory.
//
//go:embed *.rego
var FS embed.FS
