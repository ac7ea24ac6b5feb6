package build

import (
	"archive/zip"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/wheel"
)

// maxEntryPoints bounds the entry_points.txt read to pick a script.
const maxEntryPoints = 1 << 20

// consoleScripts returns the sorted [console_scripts] names of a wheel
// whose dist-info directory is distInfo ("name-1.0.dist-info").
func consoleScripts(r io.ReaderAt, size int64, distInfo string) ([]string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, err
	}
	for _, f := range zr.File {
		if f.Name != distInfo+"/entry_points.txt" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxEntryPoints+1))
		rc.Close()
		if err != nil {
			return nil, err
		}
		if len(b) > maxEntryPoints {
			return nil, fmt.Errorf("%s is larger than %d bytes", f.Name, maxEntryPoints)
		}
		eps, err := wheel.ParseEntryPoints(b)
		if err != nil {
			return nil, err
		}
		var names []string
		for n := range eps["console_scripts"] {
			names = append(names, n)
		}
		slices.Sort(names)
		return names, nil
	}
	return nil, nil
}

// derivedEntrypoint is the console script a build chose for an image
// whose harden.yaml names no entrypoint; every platform must agree.
type derivedEntrypoint struct {
	script, pkg, platform string
}

// chooseEntrypoint picks the program to run when harden.yaml names none:
// the console script of the one top-level requirement that is named like
// the project (normalised), or its only one. top are the top-level
// requirements (normalised, sorted); scripts their console scripts.
// Every other case is an input error that lists what was found and the
// line to add.
func chooseEntrypoint(top []string, scripts map[string][]string, reqFile string) (string, error) {
	const notSet = "entrypoint: is not set in harden.yaml"
	if len(top) != 1 {
		var found, lines []string
		for _, k := range top {
			found = append(found, fmt.Sprintf("%s: %s", k, listOrNone(scripts[k])))
			for _, s := range scripts[k] {
				lines = append(lines, entrypointLine(s))
			}
		}
		if len(top) == 0 {
			return "", errs.Input(fmt.Errorf("%s and %s lists no requirement to take a console script from; add the program to run to harden.yaml, e.g. entrypoint: [python3, -m, <module>]", notSet, reqFile))
		}
		return "", errs.Input(fmt.Errorf("%s and %s has %d top-level requirements (%s), so there is no one console script to run; console scripts found: %s; %s",
			notSet, reqFile, len(top), strings.Join(top, ", "), strings.Join(found, "; "), addLine(lines, top[0])))
	}
	pkg := top[0]
	ss := scripts[pkg]
	var named []string
	for _, s := range ss {
		if wheel.NormalizeName(s) == pkg {
			named = append(named, s)
		}
	}
	switch {
	case len(named) == 1:
		return named[0], nil
	case len(ss) == 1:
		return ss[0], nil
	case len(ss) == 0:
		return "", errs.Input(fmt.Errorf("%s and %s, the top-level requirement, declares no console scripts; %s", notSet, pkg, addLine(nil, pkg)))
	}
	var lines []string
	for _, s := range ss {
		lines = append(lines, entrypointLine(s))
	}
	return "", errs.Input(fmt.Errorf("%s and %s, the top-level requirement, declares %d console scripts (%s), none of them alone named like the project; %s",
		notSet, pkg, len(ss), strings.Join(ss, ", "), addLine(lines, pkg)))
}

// addLine tells which line to add to harden.yaml.
func addLine(lines []string, pkg string) string {
	switch len(lines) {
	case 0:
		return fmt.Sprintf("add the program to run to harden.yaml, e.g. entrypoint: [python3, -m, %s]", strings.ReplaceAll(pkg, "-", "_"))
	case 1:
		return "add this line to harden.yaml: " + lines[0]
	}
	return "add one of these lines to harden.yaml: " + strings.Join(lines, " | ")
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

var plainScalar = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]*$`)

// entrypointLine is the harden.yaml line that runs script.
func entrypointLine(script string) string {
	if !plainScalar.MatchString(script) {
		script = strconv.Quote(script)
	}
	return "entrypoint: [" + script + "]"
}

// resolveEntrypoint is the image's entrypoint: harden.yaml's, or the
// console script chosen from the top-level requirement's wheel, which
// every platform must agree on. scripts are this platform's top-level
// console scripts.
func resolveEntrypoint(o Options, top []string, scripts map[string][]string, platform string, der *derivedEntrypoint) ([]string, error) {
	if len(o.Config.Entrypoint) > 0 {
		return append([]string(nil), o.Config.Entrypoint...), nil
	}
	reqFile := "requirements.in"
	if o.Input != nil && o.Input.Path != "" {
		reqFile = o.Input.Path
	}
	script, err := chooseEntrypoint(top, scripts, reqFile)
	if err != nil {
		return nil, err
	}
	switch {
	case der.script == "":
		*der = derivedEntrypoint{script: script, pkg: top[0], platform: platform}
		o.Log("entrypoint not set: using console script %s of package %s; set entrypoint: in harden.yaml to choose", script, top[0])
	case der.script != script:
		return nil, errs.Input(fmt.Errorf("entrypoint: is not set in harden.yaml, and %s's wheel for %s gives console script %s where %s's gives %s; add the line to harden.yaml: %s",
			der.pkg, platform, script, der.platform, der.script, entrypointLine(der.script)))
	}
	return []string{script}, nil
}
