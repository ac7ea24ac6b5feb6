#!/usr/bin/env bash
# Installs the Debian packages harden's tests and demo need. Idempotent.
set -euo pipefail
pkgs=(runc skopeo docker-registry git ca-certificates curl iproute2 util-linux python3-pip jq)
# The fixtures are built from `apt-get download`: refresh package lists that
# are missing or stale (a superseded version would 404).
if [ "$(id -u)" -eq 0 ] && [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -360 2>/dev/null | head -n1)" ]; then
  apt-get update -qq
fi
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
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for b in go dpkg-deb apt-get; do
  command -v "$b" >/dev/null || { echo "setup: $b not found" >&2; exit 2; }
done
