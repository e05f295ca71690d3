#!/usr/bin/env bash
# Stops a moto_server started by moto-up.sh: MOTO_DIR (or MOTO_VENV + MOTO_PORT) names its pid file.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${MOTO_VENV:-$root/.venv/moto}
dir=${MOTO_DIR:-$venv/run-${MOTO_PORT:?set MOTO_PORT or MOTO_DIR}}
pidfile=$dir/moto.pid
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
# Only kill what is still our moto_server (a pid may have been reused).
if grep -q moto_server "/proc/$pid/cmdline" 2>/dev/null; then
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
fi
rm -f "$pidfile"
