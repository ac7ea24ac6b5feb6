#!/usr/bin/env bash
# Starts Debian's docker-registry (distribution 2.8, no referrers API) on
# 127.0.0.1:${HARDEN_REGISTRY_PORT:-5000} with a throwaway storage dir.
# Usage: registry.sh start|stop|addr
set -euo pipefail
port=${HARDEN_REGISTRY_PORT:-5000}
dir=${HARDEN_REGISTRY_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.cache/registry}
addr=127.0.0.1:$port
case "${1:-start}" in
  start)
    if curl -fsS "http://$addr/v2/" >/dev/null 2>&1; then echo "$addr"; exit 0; fi
    mkdir -p "$dir/data"
    cat > "$dir/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $addr
YML
    nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 1 50); do
      if curl -fsS "http://$addr/v2/" >/dev/null 2>&1; then echo "$addr"; exit 0; fi
      sleep 0.1
    done
    echo "registry.sh: docker-registry did not start; see $dir/registry.log" >&2
    cat "$dir/registry.log" >&2
    exit 1 ;;
  stop)
    [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid" ;;
  addr) echo "$addr" ;;
  *) echo "usage: $0 start|stop|addr" >&2; exit 2 ;;
esac
