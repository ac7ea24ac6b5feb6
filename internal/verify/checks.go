package verify

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harden-dev/harden/internal/attach"

	"github.com/harden-dev/harden/internal/wheel"
)

// Predicate types harden checks.
const (
	SLSAPredicateType      = "https://slsa.dev/provenance/v1"
	SPDXPredicateType      = "https://spdx.dev/Document"
	SPDX23PredicateType    = "https://spdx.dev/Document/v2.3"
	CycloneDXPredicateType = "https://cyclonedx.org/bom"
)

// checkIntegrity fails for every entry whose bytes did not match their
// digest, and gathers what was ignored into the report.
func checkIntegrity(rep *Report, ts targets) {
	for _, t := range ts.all() {
		for _, ig := range t.ignored {
			rep.Ignored = append(rep.Ignored, ig)
			if ig.Integrity {
				rep.add("integrity", t.ref.DigestStr(), false, "%s%s entry %s: content does not match its digest; the registry, or something between it and you, served altered data", platPrefix(t), ig.Layout, ig.Entry)
			}
		}
	}
}

// checkStorage says what was found in each layout and how much of it is
// usable for this image and this signer.
func checkStorage(rep *Report, ts targets) {
	found := map[string]int{}
	usable := map[string]int{}
	skipped := 0
	for _, t := range ts.all() {
		skipped += t.skipped
		found[attach.LayoutReferrers] += len(t.found.Referrers)
		found[attach.LayoutLegacy] += len(t.found.Signatures) + len(t.found.Attestations)
		for _, ig := range t.ignored {
			if ig.Layout != "" {
				found[ig.Layout]++
			}
		}
		for _, v := range t.sigs {
			usable[v.Layout]++
		}
		for _, v := range t.atts {
			usable[v.Layout]++
		}
	}
	var parts []string
	total := 0
	for _, l := range []string{attach.LayoutReferrers, attach.LayoutLegacy} {
		if found[l] == 0 {
			continue
		}
		total += usable[l]
		rep.Storage = append(rep.Storage, l)
		parts = append(parts, fmt.Sprintf("%s: %d of %d %s verified", l, usable[l], found[l], plural(found[l], "entry", "entries")))
	}
	slices.Sort(rep.Storage)
	switch {
	case len(parts) == 0:
		rep.add("storage", ts.root.ref.DigestStr(), false, "no signatures or attestations are stored with this image in %s. They live next to the image (OCI referrers and cosign sha256-<hex>.sig/.att tags), so a copy made with skopeo, crane or docker leaves them behind: copy it with them from where it was released, harden copy SOURCE-REPO@%s %s. An image never signed is released with harden release (or harden sign and harden attest)", ts.root.ref.Context(), ts.root.ref.DigestStr(), ts.root.ref.Context())
	case total == 0:
		rep.add("storage", ts.root.ref.DigestStr(), false, "%s; none is a valid entry for this image by the expected signer (see the signature check)", strings.Join(parts, "; "))
	default:
		note := ""
		if skipped > 0 {
			note = fmt.Sprintf(" (%d SBOM copies on the index not read: SBOMs are checked per platform)", skipped)
		}
		rep.add("storage", ts.root.ref.DigestStr(), true, "%s%s", strings.Join(parts, "; "), note)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func platPrefix(t *target) string {
	if t.platform == "" {
		return ""
	}
	return t.platform + ": "
}

func checkSignatures(rep *Report, o Options, ts targets) {
	for _, t := range ts.all() {
		if len(t.sigs) > 0 {
			s := t.sigs[0]
			c := rep.add("signature", t.ref.DigestStr(), true, "%s%s signature by %s", platPrefix(t), s.Layout, who(s))
			c.Signer, c.Candidates = who(s), candidates(t.sigs, nil)
			continue
		}
		reason := "not signed: no signature is stored with it (see the storage check)"
		if rej := rejections(t, isSignatureKind); rej != "" {
			reason = "no signature by " + expected(o) + " verifies: " + rej
		}
		rep.add("signature", t.ref.DigestStr(), false, "%s%s", platPrefix(t), reason)
	}
}

func isSignatureKind(k string) bool { return k == kindSignature || k == "" }

func who(v Verified) string {
	if v.Identity.Subject == "" {
		return "the given key"
	}
	return v.Identity.Subject + " (" + v.Identity.Issuer + ")"
}

// expected names the signer verification asked for.
func expected(o Options) string {
	if o.KeyPath != "" {
		return "the given key"
	}
	return o.Identity.String()
}

// rejections words why the entries of t that claim a kind did not
// verify: each layout's own reasons, each once with a count, referrers
// first. The claim only routes the message; it decides nothing.
func rejections(t *target, want func(kind string) bool) string {
	type key struct{ layout, reason string }
	n := map[key]int{}
	var order []key
	for _, r := range t.rejected {
		if !want(r.kind) {
			continue
		}
		k := key{r.layout, r.reason}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	var parts []string
	for i, k := range order {
		s := fmt.Sprintf("%d× %s", n[k], k.reason)
		if i == 0 || order[i-1].layout != k.layout {
			s = k.layout + ": " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// candidates lists verified statements for a check; accept, when set,
// says whether a check accepted one and why not.
func candidates(vs []Verified, accept func(i int) (bool, string)) []Candidate {
	out := make([]Candidate, 0, len(vs))
	for i, v := range vs {
		c := Candidate{Layout: v.Layout, Entry: v.Entry, Signer: who(v), Accepted: true}
		if !v.signedAt.IsZero() {
			c.SignedAt = v.signedAt.UTC().Format(time.RFC3339)
		}
		if accept != nil {
			c.Accepted, c.Reason = accept(i)
		}
		out = append(out, c)
	}
	return out
}

// ofType returns the verified attestations of t with a predicate type.
func ofType(t *target, match func(string) bool) []Verified {
	var out []Verified
	for _, a := range t.atts {
		if match(a.PredicateType) {
			out = append(out, a)
		}
	}
	return out
}

func isSLSA(pt string) bool { return pt == SLSAPredicateType }

// provenance is what the checks learned from the SLSA predicates: the
// wheel sets (platform -> name -> version) of every accepted statement,
// or of every signed one when none was accepted.
type provenance struct {
	wheels []map[string]map[string]string
	// upstream is input.upstream, from the accepted statement only.
	upstream []InputUpstream
}

// checkProvenance holds when any signed SLSA statement about this
// digest, by an allowed signer, satisfies every requirement. Candidates
// are tried newest first, so the verdict does not depend on the order
// the registry lists them in.
func checkProvenance(rep *Report, o Options, root *target) *provenance {
	cands := ofType(root, isSLSA)
	if len(cands) == 0 {
		reason := "no signed SLSA v1 provenance for this digest"
		if rej := rejections(root, isSLSA); rej != "" {
			reason += " (" + rej + ")"
		}
		rep.add("provenance", root.ref.DigestStr(), false, "%s; attach it with harden attest --type slsaprovenance1", reason)
		return nil
	}
	type result struct {
		problems []string
		builder  string
		lock     string
		wheels   map[string]map[string]string
	}
	res := make([]result, len(cands))
	accepted := -1
	p := &provenance{}
	for i, c := range cands {
		r := &res[i]
		r.problems, r.builder, r.lock, r.wheels = provenanceProblems(o, c.Statement)
		if len(r.problems) == 0 {
			p.wheels = append(p.wheels, r.wheels)
			if accepted < 0 {
				accepted = i
			}
		}
	}
	list := candidates(cands, func(i int) (bool, string) {
		return len(res[i].problems) == 0, strings.Join(res[i].problems, "; ")
	})
	if accepted >= 0 {
		r, c := res[accepted], cands[accepted]
		ck := rep.add("provenance", root.ref.DigestStr(), true, "SLSA v1 provenance by builder %s; base pinned by digest; lock %s; signed by %s", r.builder, r.lock, who(c))
		ck.Signer, ck.Candidates = who(c), list
		p.upstream = upstreamOf(c.Statement)
		return p
	}
	for _, r := range res {
		p.wheels = append(p.wheels, r.wheels)
	}
	var reason string
	if len(cands) == 1 {
		reason = "SLSA provenance is signed but " + strings.Join(res[0].problems, "; ")
	} else {
		seen := map[string]bool{}
		var parts []string
		for i, r := range res {
			s := who(cands[i]) + ": " + strings.Join(r.problems, "; ")
			if !seen[s] {
				seen[s] = true
				parts = append(parts, s)
			}
		}
		reason = fmt.Sprintf("none of the %d signed SLSA provenance statements is acceptable: %s", len(cands), strings.Join(parts, " | "))
	}
	ck := rep.add("provenance", root.ref.DigestStr(), false, "%s", reason)
	ck.Candidates = list
	return p
}

// provenanceProblems checks one SLSA statement against the options.
func provenanceProblems(o Options, st map[string]any) (problems []string, builder, lockDigest string, wheels map[string]map[string]string) {
	pred, _ := st["predicate"].(map[string]any)
	builder = str(pred, "runDetails", "builder", "id")
	if builder == "" {
		problems = append(problems, "runDetails.builder.id is empty")
	} else if o.BuilderID != "" && builder != o.BuilderID {
		problems = append(problems, fmt.Sprintf("built by %s, expected %s", builder, o.BuilderID))
	}
	deps, _ := get(pred, "buildDefinition", "resolvedDependencies").([]any)
	basePinned, lockOK, srcOK := false, false, o.SourceRepo == ""
	lockDigest = str(pred, "buildDefinition", "externalParameters", "lockDigest")
	wheels = map[string]map[string]string{}
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
				if wheels[ps] == nil {
					wheels[ps] = map[string]string{}
				}
				wheels[ps][wheel.NormalizeName(nm)] = ver
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
	return problems, builder, lockDigest, wheels
}

func refSuffix(r string) string {
	if r == "" {
		return ""
	}
	return "@" + r
}

// checkSBOMs wants, for each platform, at least one signed SBOM, and
// every signed SBOM about it to agree with an accepted provenance: every
// wheel at its version, and (CycloneDX, which records layers) no other
// Python package in the layers harden added. A signed SBOM that
// disagrees is evidence against the image, so it is not outvoted.
func checkSBOMs(rep *Report, ts targets, prov *provenance) {
	for _, t := range ts.plats {
		cands := ofType(t, isSBOM)
		if len(cands) == 0 {
			reason := "no signed SPDX or CycloneDX SBOM for this digest"
			if rej := rejections(t, isSBOM); rej != "" {
				reason += " (" + rej + ")"
			}
			rep.add("sbom", t.ref.DigestStr(), false, "%s%s; attach them with harden attest", platPrefix(t), reason)
			continue
		}
		if prov == nil {
			rep.add("sbom", t.ref.DigestStr(), false, "%sSBOM present, but without provenance there is nothing to check it against", platPrefix(t))
			continue
		}
		problems := make([]string, len(cands))
		wanted := 0
		for i, c := range cands {
			for j, w := range prov.wheels {
				want := w[t.platform]
				p := sbomProblems(c, want, t.appLayer)
				if p == "" {
					problems[i], wanted = "", len(want)
					break
				}
				if j == 0 {
					problems[i] = p // worded against the first provenance
				}
			}
		}
		list := candidates(cands, func(i int) (bool, string) { return problems[i] == "", problems[i] })
		var bad []string
		for i, p := range problems {
			if p != "" {
				bad = append(bad, fmt.Sprintf("%s (%s, %s)", p, sbomKind(cands[i].PredicateType), who(cands[i])))
			}
		}
		if len(bad) > 0 {
			c := rep.add("sbom", t.ref.DigestStr(), false, "%sSBOM and provenance disagree: %s; the image or an attestation was altered, rebuild and re-attest", platPrefix(t), strings.Join(bad, "; "))
			c.Candidates = list
			continue
		}
		c := rep.add("sbom", t.ref.DigestStr(), true, "%s%d signed SBOM(s) list all %d locked wheels at their versions and nothing else in harden's layers; signed by %s", platPrefix(t), len(cands), wanted, who(cands[0]))
		c.Signer, c.Candidates = who(cands[0]), list
	}
}

func sbomKind(pt string) string {
	if pt == CycloneDXPredicateType {
		return "CycloneDX"
	}
	return "SPDX"
}

// sbomProblems compares one SBOM with a provenance's wheels; "" agrees.
func sbomProblems(c Verified, want map[string]string, app map[string]bool) string {
	pred, _ := c.Statement["predicate"].(map[string]any)
	var got, appOnly map[string]string
	if c.PredicateType == CycloneDXPredicateType {
		got, appOnly = sbomPython(nil, pred, app)
	} else {
		got, appOnly = sbomPython(pred, nil, app)
	}
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
	return strings.Join(parts, "; ")
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

func checkConfigs(rep *Report, o Options, ts targets) {
	want := o.ExpectUID
	if want == 0 {
		want = 10001
	}
	for _, t := range ts.plats {
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
