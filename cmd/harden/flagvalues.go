package main

import "github.com/harden-dev/harden/internal/flagcheck"

// changed reports whether the running command's flag name was given, for
// option code that has no *cobra.Command at hand.
func (g *globals) changed(name string) bool { return g.flags != nil && g.flags.Changed(name) }

// checkExpectUID refuses an --expect-uid of 0 (root), below 0 or above
// flagcheck.MaxID; 10001 is the flag's default.
func checkExpectUID(uid int) error { return flagcheck.NonRootID("expect-uid", uid, 10001) }
