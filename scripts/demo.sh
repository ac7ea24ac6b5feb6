#!/usr/bin/env bash
# The offline demo: release the pgcli fixture image to a local registry.
# Run through "make demo", which builds harden and the fixtures first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HARDEN:=$root/.cache/bin/harden}" "${REGISTRY:=127.0.0.1:5000}" "${HARDEN_FIXTURES:=$root/.cache/fixtures}"
: "${SIGSTORE_LOCAL:=$root/.cache/bin/sigstore-local}" "${TOOLS:=$root/.cache/tools}"
work=$root/.cache/demo
mkdir -p "$work"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

step() { printf '\n== %s\n' "$*"; }

step "push the fixture base image (Debian bookworm python3) to $REGISTRY"
skopeo copy --quiet --all --dest-tls-verify=false \
  "oci:$HARDEN_FIXTURES/base" "docker://$REGISTRY/library/python:3.11-bookworm-fixture"
base=$("$HARDEN" base resolve "$REGISTRY/library/python:3.11-bookworm-fixture" | head -n1)
echo "base pinned: $base"

step "write the offline vulnerability database (real advisories for the fixture's packages)"
"$root/.cache/bin/mkvulndb" -out "$work/vulndb"

sed -e "s|@BASE@|$base|" -e "s|@REGISTRY@|$REGISTRY|" -e "s|@FIXTURES@|$HARDEN_FIXTURES|" -e "s|@VULNDB@|$work/vulndb|" \
  "$root/scripts/demo.harden.yaml" > "$work/harden.yaml"

step "start a private Sigstore on 127.0.0.1 (OIDC issuer, Fulcio, timestamp authority, Rekor v2), and a package index of the fixture wheels that serves PyPI (PEP 740) attestations for three of them"
sig=$work/sigstore
# This run's Sigstore is new: attestations an earlier run cached are not
# signed by it.
rm -rf "$sig" "$work/wheel-cache"
# The fixture wheels are Debian repacks that no one attested; here the
# index attests six, sqlparse and tabulate through this Sigstore, with
# GitHub Actions certificates of their projects' publish workflows.
"$SIGSTORE_LOCAL" -dir "$sig" -rekor-server "$TOOLS/rekor-server" -index-wheels "$HARDEN_FIXTURES/wheels" \
  -index-attest six=benjaminp/six:release.yml,sqlparse=andialbrecht/sqlparse:python-publish.yml,tabulate=astanin/python-tabulate:release.yml &
sigpid=$!
trap 'kill "$sigpid" 2>/dev/null; wait "$sigpid" 2>/dev/null || true' EXIT
for _ in $(seq 600); do [ -f "$sig/ready" ] && break; kill -0 "$sigpid" 2>/dev/null || { echo "sigstore-local failed" >&2; exit 1; }; sleep 0.1; done
[ -f "$sig/ready" ] || { echo "sigstore-local did not become ready in 60 s" >&2; exit 1; }
# shellcheck disable=SC1091
. "$sig/env"
signing=(--identity-token-file "$sig/token" --trusted-root "$sig/trusted_root.json" --signing-config "$sig/signing_config.json")

step "harden release: lock check, build, smoke test, publish by digest, SBOMs, sign, attest, verify, record"
"$HARDEN" release --config "$work/harden.yaml" --wheel-dir "$HARDEN_FIXTURES/wheels" --out "$work/dist" --progress plain "${signing[@]}"
image=$(sed -n 's/^  "image": "\(.*@sha256:[0-9a-f]*\)".*/\1/p' "$work/dist/release.json" | head -n1)
verify_cmd=$(sed -n 's/^    "command": "\(.*\)".*/\1/p' "$work/dist/release.json" | head -n1)

step "harden lock: resolve requirements.in natively (base inspected from the registry), review against the fixture lock"
"$HARDEN" lock --config "$work/harden.yaml" --wheel-dir "$HARDEN_FIXTURES/wheels" --cache-dir "$work/wheel-cache" \
  --output-file "$work/requirements.lock" 2>/dev/null | tail -n 1
"$HARDEN" lock diff --config "$work/harden.yaml" "$HARDEN_FIXTURES/requirements.lock" "$work/requirements.lock"
"$HARDEN" bump --config "$work/harden.yaml" 2>&1

step "upstream provenance: the fixture lock's attestation coverage on the attesting index"
"$HARDEN" lock --check --config "$work/harden.yaml" --index-url "$PYPI_INDEX_URL" --trusted-root "$sig/trusted_root.json" \
  --cache-dir "$work/wheel-cache" 2>/dev/null | sed -n '/^upstream provenance/,/^  not attested/p' | cut -c1-160

step "harden lock against the attesting index records each publisher; harden build verifies them again"
"$HARDEN" lock --config "$work/harden.yaml" --index-url "$PYPI_INDEX_URL" --trusted-root "$sig/trusted_root.json" \
  --cache-dir "$work/wheel-cache" --output-file "$work/attested.lock" 2>/dev/null | tail -n 1
grep '# provenance: six-' "$work/attested.lock"
"$HARDEN" build --config "$work/harden.yaml" --lock "$work/attested.lock" --index-url "$PYPI_INDEX_URL" \
  --upstream-trusted-root "$sig/trusted_root.json" --cache-dir "$work/wheel-cache" --out "$work/attested-dist" 2>&1 |
  grep -E '^upstream provenance|^  GitHub'

step "a lock that pins another publisher for six: harden build refuses it (exit 1), nothing is written"
sed 's|repository=benjaminp/six|repository=mallory/six|' "$work/attested.lock" > "$work/impostor.lock"
rm -rf "$work/impostor-dist"
if "$HARDEN" build --config "$work/harden.yaml" --lock "$work/impostor.lock" --index-url "$PYPI_INDEX_URL" \
  --upstream-trusted-root "$sig/trusted_root.json" --cache-dir "$work/wheel-cache" --out "$work/impostor-dist" > "$work/impostor.log" 2>&1; then
  echo "the build accepted a publisher the lock does not pin" >&2; exit 1
fi
grep -m1 'attested by another publisher' "$work/impostor.log" | cut -c1-200
[ ! -e "$work/impostor-dist" ] || { echo "the refused build left $work/impostor-dist" >&2; exit 1; }

step "independent check with the cosign CLI"
cosign_verify=(--certificate-identity "$SIGSTORE_IDENTITY" --certificate-oidc-issuer "$SIGSTORE_ISSUER"
  --trusted-root "$sig/trusted_root.json" --allow-http-registry --insecure-ignore-sct)
HOME=$work/cosign-home "$TOOLS/cosign" verify "${cosign_verify[@]}" "$image" > /dev/null
for t in slsaprovenance1 spdxjson cyclonedx vuln; do
  HOME=$work/cosign-home "$TOOLS/cosign" verify-attestation --type "$t" "${cosign_verify[@]}" "$image" > /dev/null 2> "$work/cosign.log" ||
    { cat "$work/cosign.log" >&2; exit 1; }
done
echo "cosign verify + verify-attestation (slsaprovenance1, spdxjson, cyclonedx, vuln): OK"

step "harden verify, exactly as the release record prints it"
echo "$verify_cmd"
eval "${verify_cmd/#harden/\"\$HARDEN\"}"
identity=(--certificate-identity "$SIGSTORE_IDENTITY" --certificate-oidc-issuer "$SIGSTORE_ISSUER" --trusted-root "$sig/trusted_root.json")

step "export with every attestation, then verify offline from the layout"
rm -rf "$work/export"
"$HARDEN" export "$image" --out "$work/export"
"$HARDEN" verify --layout "$work/export" --offline "${identity[@]}" | tail -n 1

step "import the export into a mirror repository, then verify the mirror with the same identity"
mirror="$REGISTRY/demo-mirror/pgcli"
"$HARDEN" copy --from-layout "$work/export" "$mirror"
"$HARDEN" verify "$mirror@${image#*@}" "${identity[@]}" | tail -n 1

step "rebuild from the signed provenance alone and compare digests"
"$HARDEN" rebuild "$image" "${identity[@]}" | tail -n 1

step "admission policies for this image and this Sigstore"
mkdir -p "$work/policy"
for engine in kyverno policy-controller; do
  "$HARDEN" policy generate --config "$work/harden.yaml" --engine "$engine" "${identity[@]}" \
    --insecure-ignore-tlog --output-file "$work/policy/$engine.yaml"
done
if [ -x "$TOOLS/kubectl-kyverno" ]; then
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: pgcli, namespace: default}\nspec:\n  containers:\n    - {name: pgcli, image: "%s"}\n' \
    "$image" > "$work/policy/pod.yaml"
  HOME=$work/kyverno-home "$TOOLS/kubectl-kyverno" apply "$work/policy/kyverno.yaml" --resource "$work/policy/pod.yaml" 2>&1 | tail -n 1
fi

step "vulnerability gate on high: the fixture's old pins fail it (exit 1)"
if "$HARDEN" scan "$image" --db "$work/vulndb" --fail-on high; then
  echo "the high gate passed, but the fixture has fixable high findings" >&2; exit 1
fi

echo
echo "released: $image"
echo "record:   $work/dist/release.json, $work/dist/release.md"
