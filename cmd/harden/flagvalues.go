package main

import "github.com/harden-dev/harden/internal/flagcheck"

// changed reports whether the running command's flag name was given, for
// option code that has no *cobra.Command at hand.
func (g *globals) changed(name string) bool { return g.flags != nil && g.flags.Changed(name) }

// given reports whether flag name was given on the command line: a
// HARDEN_ variable set for every command does not make a flag that only
// applies with another one an error.
func (g *globals) given(name string) bool { return g.changed(name) && !fromEnv(g.flags, name) }

// checkExpectUID refuses an --expect-uid of 0 (root), below 0 or above
// flagcheck.MaxID; 10001 is the flag's default.
func checkExpectUID(uid int) error { return flagcheck.NonRootID("expect-uid", uid, 10001) }
