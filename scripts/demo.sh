#!/usr/bin/env bash
# The offline demo: release the pgcli fixture image to a local registry.
# Run through "make demo", which builds harden and the fixtures first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HARDEN:=$root/.cache/bin/harden}" "${REGISTRY:=127.0.0.1:5000}" "${HARDEN_FIXTURES:=$root/.cache/fixtures}"
work=$root/.cache/demo
mkdir -p "$work"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

step() { printf '\n== %s\n' "$*"; }

step "push the fixture base image (Debian bookworm python3) to $REGISTRY"
skopeo copy --quiet --all --dest-tls-verify=false \
  "oci:$HARDEN_FIXTURES/base" "docker://$REGISTRY/library/python:3.11-bookworm-fixture"
base=$("$HARDEN" base resolve "$REGISTRY/library/python:3.11-bookworm-fixture" | head -n1)
echo "base pinned: $base"

sed -e "s|@BASE@|$base|" -e "s|@REGISTRY@|$REGISTRY|" -e "s|@FIXTURES@|$HARDEN_FIXTURES|" \
  "$root/scripts/demo.harden.yaml" > "$work/harden.yaml"

step "build (native, daemonless, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
"$HARDEN" build --config "$work/harden.yaml" --wheel-dir "$HARDEN_FIXTURES/wheels" --out "$work/dist"

step "smoke test inside the image"
"$HARDEN" test --config "$work/harden.yaml" --out "$work/dist"

step "publish by digest"
"$HARDEN" publish --config "$work/harden.yaml" --out "$work/dist"
image=$(sed -n 's/.*"image": "\(.*@sha256:[0-9a-f]*\)".*/\1/p' "$work/dist/release.json" | head -n1)

step "independent check with skopeo"
skopeo inspect --raw --tls-verify=false "docker://$image" | head -c 400; echo
echo
echo "released: $image"
echo "record:   $work/dist/release.json"
