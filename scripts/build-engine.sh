#!/usr/bin/env bash
# Builds an admission engine's CLI from the Go module proxy:
#   build-engine.sh MODULE VERSION PACKAGE OUTPUT
# Kyverno and policy-controller have replace directives in go.mod, which
# `go install mod@version` refuses, so the module is downloaded, copied
# out of the read-only module cache and built in place with its own go.mod.
set -euo pipefail
mod=$1 version=$2 pkg=$3 out=$4
dir=$(cd / && go mod download -json "$mod@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "build-engine: go mod download $mod@$version gave no directory" >&2; exit 1; }
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
cp -r "$dir/." "$src"
chmod -R u+w "$src"
mkdir -p "$(dirname "$out")"
# Build next to the output and rename, so a failed build leaves nothing.
(cd "$src" && GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$out.tmp" "./$pkg")
mv "$out.tmp" "$out"
echo "built $out from $mod@$version"
