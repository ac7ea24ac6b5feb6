package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/harden-dev/harden/internal/errs"
)

// envFlags are the flags that may also come from the environment as
// HARDEN_<FLAG>: where things are (an index, wheels, a cache, a private
// Sigstore, a token file) and how to run, which a CI job or a team sets
// once. Who must have signed (identity, issuer, key) and what to accept
// stay on the command line, where a reader of the command sees them.
var envFlags = []string{"cache-dir", "db", "identity-token-file", "index-url", "progress", "runtime", "signing-config", "storage", "trusted-root", "wheel-dir"}

// envAnnotation marks a flag set from the environment.
const envAnnotation = "harden.dev/from-env"

// fromEnv reports whether flag name of fs was set from its HARDEN_
// variable rather than on the command line.
func fromEnv(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && len(f.Annotations[envAnnotation]) > 0
}

// envName is the variable that sets flag name.
func envName(flag string) string {
	return "HARDEN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets each of fs's envFlags left off the command line from its
// HARDEN_ variable, as if given, so checks of given flags apply to it.
func applyEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	for _, name := range envFlags {
		f := fs.Lookup(name)
		if f == nil || f.Changed {
			continue
		}
		v := getenv(envName(name))
		if v == "" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return errs.Input(fmt.Errorf("%s=%q (for --%s): %w", envName(name), v, name, err))
		}
		if err := fs.SetAnnotation(name, envAnnotation, []string{envName(name)}); err != nil {
			return err
		}
	}
	return nil
}

// envHelp lists the variables, for the root command's help.
func envHelp() string {
	names := make([]string, len(envFlags))
	for i, f := range envFlags {
		names[i] = envName(f)
	}
	sort.Strings(names)
	return "Environment: " + strings.Join(names, ", ") + " set the flag of that name where a command has it (the command line wins); HARDEN_CONFIG names the harden.yaml."
}
