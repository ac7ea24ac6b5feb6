#!/usr/bin/env bash
# Installs the Debian packages harden's tests and demo need. Idempotent.
set -euo pipefail
pkgs=(runc skopeo docker-registry git ca-certificates curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for b in go dpkg-deb apt-get; do
  command -v "$b" >/dev/null || { echo "setup: $b not found" >&2; exit 2; }
done
