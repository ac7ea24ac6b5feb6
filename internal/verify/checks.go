package verify

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/harden-dev/harden/internal/wheel"
)

// Predicate types harden checks.
const (
	SLSAPredicateType      = "https://slsa.dev/provenance/v1"
	SPDXPredicateType      = "https://spdx.dev/Document"
	SPDX23PredicateType    = "https://spdx.dev/Document/v2.3"
	CycloneDXPredicateType = "https://cyclonedx.org/bom"
)

func checkSignatures(rep *Report, targets []*target) {
	for _, t := range targets {
		if len(t.sigs) > 0 {
			s := t.sigs[0]
			rep.add("signature", t.ref.DigestStr(), true, "%s signature by %s", s.Layout, who(s))
			continue
		}
		reason := "not signed: no signature was found; sign it with harden sign"
		if len(t.errs) > 0 {
			reason = "no valid signature: " + summarize(t.errs)
		}
		if t.platform != "" && t.platform != "image" {
			reason = t.platform + ": " + reason
		}
		rep.add("signature", t.ref.DigestStr(), false, "%s", reason)
	}
}

func who(v Verified) string {
	if v.Identity.Subject == "" {
		return "the given key"
	}
	return v.Identity.Subject + " (" + v.Identity.Issuer + ")"
}

// provenance is what the checks learned from the SLSA predicate.
type provenance struct {
	wheels map[string]map[string]string // platform -> name -> version
}

func checkProvenance(rep *Report, o Options, targets []*target) *provenance {
	idx := targets[0]
	var st map[string]any
	for _, a := range idx.atts {
		if a.PredicateType == SLSAPredicateType {
			st = a.Statement
			break
		}
	}
	if st == nil {
		rep.add("provenance", idx.ref.DigestStr(), false, "no signed SLSA v1 provenance for this digest%s; attach it with harden attest --type slsaprovenance1", errSuffix(idx))
		return nil
	}
	pred, _ := st["predicate"].(map[string]any)
	var problems []string
	builder := str(pred, "runDetails", "builder", "id")
	if builder == "" {
		problems = append(problems, "runDetails.builder.id is empty")
	} else if o.BuilderID != "" && builder != o.BuilderID {
		problems = append(problems, fmt.Sprintf("built by %s, expected %s", builder, o.BuilderID))
	}
	deps, _ := get(pred, "buildDefinition", "resolvedDependencies").([]any)
	basePinned, lockOK, srcOK := false, false, o.SourceRepo == ""
	lockDigest := str(pred, "buildDefinition", "externalParameters", "lockDigest")
	p := &provenance{wheels: map[string]map[string]string{}}
	for _, d := range deps {
		dm, _ := d.(map[string]any)
		nm, _ := dm["name"].(string)
		uri, _ := dm["uri"].(string)
		sha := str(dm, "digest", "sha256")
		switch {
		case nm == "base-image":
			if sha != "" && strings.Contains(uri, "@sha256:"+sha) {
				basePinned = true
			}
		case lockDigest != "" && "sha256:"+sha == lockDigest:
			lockOK = true
		case strings.HasPrefix(uri, "git+"):
			if o.SourceRepo != "" && strings.Contains(uri, o.SourceRepo) {
				srcOK = o.SourceRef == "" || strings.HasSuffix(uri, "@"+o.SourceRef) || str(dm, "digest", "gitCommit") == o.SourceRef
			}
		}
		if ver := str(dm, "annotations", "version"); ver != "" && strings.HasSuffix(str(dm, "annotations", "filename"), ".whl") {
			plats, _ := get(dm, "annotations", "platforms").([]any)
			for _, pl := range plats {
				ps, _ := pl.(string)
				if p.wheels[ps] == nil {
					p.wheels[ps] = map[string]string{}
				}
				p.wheels[ps][wheel.NormalizeName(nm)] = ver
			}
		}
	}
	if !basePinned {
		problems = append(problems, "the base image is not pinned by digest in resolvedDependencies")
	}
	if !lockOK {
		problems = append(problems, "no lock file digest in resolvedDependencies")
	}
	if !srcOK {
		problems = append(problems, fmt.Sprintf("the source is not %s%s", o.SourceRepo, refSuffix(o.SourceRef)))
	}
	if len(problems) > 0 {
		rep.add("provenance", idx.ref.DigestStr(), false, "SLSA provenance is signed but %s", strings.Join(problems, "; "))
		return p
	}
	rep.add("provenance", idx.ref.DigestStr(), true, "SLSA v1 provenance by builder %s; base pinned by digest; lock %s", builder, lockDigest)
	return p
}

func refSuffix(r string) string {
	if r == "" {
		return ""
	}
	return "@" + r
}

func errSuffix(t *target) string {
	if len(t.errs) == 0 {
		return ""
	}
	return " (" + summarize(t.errs) + ")"
}

// summarize keeps reasons on one line and short: each distinct problem
// once, at most three.
func summarize(errs []string) string {
	seen := map[string]bool{}
	var out []string
	for _, e := range errs {
		e = strings.Join(strings.Fields(e), " ")
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	if len(out) > 3 {
		return strings.Join(out[:3], "; ") + fmt.Sprintf("; and %d more", len(out)-3)
	}
	return strings.Join(out, "; ")
}

// checkSBOMs wants a signed SBOM for each platform that agrees with the
// provenance: every wheel at its version, and no other Python package in
// the layers harden added.
func checkSBOMs(rep *Report, targets []*target, prov *provenance) {
	for _, t := range targets[1:] {
		var spdx, cdx map[string]any
		for _, a := range t.atts {
			switch a.PredicateType {
			case SPDXPredicateType, SPDX23PredicateType:
				if spdx == nil {
					spdx, _ = a.Statement["predicate"].(map[string]any)
				}
			case CycloneDXPredicateType:
				if cdx == nil {
					cdx, _ = a.Statement["predicate"].(map[string]any)
				}
			}
		}
		if spdx == nil && cdx == nil {
			rep.add("sbom", t.ref.DigestStr(), false, "%s: no signed SPDX or CycloneDX SBOM for this digest%s; attach them with harden attest", t.platform, errSuffix(t))
			continue
		}
		if prov == nil {
			rep.add("sbom", t.ref.DigestStr(), false, "%s: SBOM present, but without provenance there is nothing to check it against", t.platform)
			continue
		}
		want := prov.wheels[t.platform]
		got, appOnly := sbomPython(spdx, cdx, t.appLayer)
		var missing, mismatched, extra []string
		for n, v := range want {
			switch gv, ok := got[n]; {
			case !ok:
				missing = append(missing, n+"=="+v)
			case gv != v:
				mismatched = append(mismatched, fmt.Sprintf("%s: provenance %s, SBOM %s", n, v, gv))
			}
		}
		for n, v := range appOnly {
			if _, ok := want[n]; !ok {
				extra = append(extra, n+"=="+v)
			}
		}
		sort.Strings(missing)
		sort.Strings(mismatched)
		sort.Strings(extra)
		if len(missing)+len(mismatched)+len(extra) > 0 {
			var parts []string
			if len(missing) > 0 {
				parts = append(parts, "missing from the SBOM: "+strings.Join(missing, ", "))
			}
			if len(mismatched) > 0 {
				parts = append(parts, "version differs: "+strings.Join(mismatched, "; "))
			}
			if len(extra) > 0 {
				parts = append(parts, "not in the provenance: "+strings.Join(extra, ", "))
			}
			rep.add("sbom", t.ref.DigestStr(), false, "%s: SBOM and provenance disagree (%s); the image or an attestation was altered, rebuild and re-attest", t.platform, strings.Join(parts, "; "))
			continue
		}
		rep.add("sbom", t.ref.DigestStr(), true, "%s: SBOM lists all %d locked wheels at their versions and nothing else in harden's layers", t.platform, len(want))
	}
}

// sbomPython returns every Python package of the SBOM (name -> version)
// and those found in the app layers (CycloneDX records layers).
func sbomPython(spdx, cdx map[string]any, app map[string]bool) (all, appOnly map[string]string) {
	all, appOnly = map[string]string{}, map[string]string{}
	if cdx != nil {
		comps, _ := cdx["components"].([]any)
		for _, c := range comps {
			cm, _ := c.(map[string]any)
			purl, _ := cm["purl"].(string)
			if !strings.HasPrefix(purl, "pkg:pypi/") {
				continue
			}
			n := wheel.NormalizeName(fmt.Sprint(cm["name"]))
			v := fmt.Sprint(cm["version"])
			all[n] = v
			props, _ := cm["properties"].([]any)
			for _, p := range props {
				pm, _ := p.(map[string]any)
				if pn, _ := pm["name"].(string); strings.HasPrefix(pn, "syft:location:") && strings.HasSuffix(pn, ":layerID") && app[fmt.Sprint(pm["value"])] {
					appOnly[n] = v
				}
			}
		}
		return all, appOnly
	}
	pkgs, _ := spdx["packages"].([]any)
	for _, p := range pkgs {
		pm, _ := p.(map[string]any)
		refs, _ := pm["externalRefs"].([]any)
		for _, r := range refs {
			rm, _ := r.(map[string]any)
			if loc, _ := rm["referenceLocator"].(string); strings.HasPrefix(loc, "pkg:pypi/") {
				all[wheel.NormalizeName(fmt.Sprint(pm["name"]))] = fmt.Sprint(pm["versionInfo"])
			}
		}
	}
	return all, appOnly
}

func checkConfigs(rep *Report, o Options, targets []*target) {
	want := o.ExpectUID
	if want == 0 {
		want = 10001
	}
	for _, t := range targets {
		if t.config == nil {
			continue
		}
		c := t.config.Config
		user := c.User
		uidStr, _, _ := strings.Cut(user, ":")
		uid, err := strconv.Atoi(uidStr)
		switch {
		case user == "":
			rep.add("config", t.ref.DigestStr(), false, "%s: no user set, so it runs as root; set user: in harden.yaml and rebuild", t.platform)
		case err != nil:
			rep.add("config", t.ref.DigestStr(), false, "%s: user %q is not numeric; Kubernetes runAsNonRoot needs a numeric uid", t.platform, user)
		case uid == 0:
			rep.add("config", t.ref.DigestStr(), false, "%s: runs as root (user %q)", t.platform, user)
		case uid != want:
			rep.add("config", t.ref.DigestStr(), false, "%s: runs as uid %d, expected %d (--expect-uid)", t.platform, uid, want)
		case len(c.Entrypoint) == 0:
			rep.add("config", t.ref.DigestStr(), false, "%s: no entrypoint set", t.platform)
		default:
			rep.add("config", t.ref.DigestStr(), true, "%s: user %s, entrypoint %s", t.platform, user, mustJSON(c.Entrypoint))
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func get(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func str(m map[string]any, path ...string) string {
	s, _ := get(m, path...).(string)
	return s
}
