#!/usr/bin/env bash
# Starts moto's server (the AWS emulator the integration tests talk to) on 127.0.0.1, detached,
# through scripts/moto_server.py, which corrects the CloudFront models listed there.
# Installs it into a local venv first when missing. Prints the endpoint URL on stdout and nothing else.
#   MOTO_VENV  venv directory          (default: ./.venv/moto next to this repo)
#   MOTO_SPEC  pip requirement          (default: moto[server]==5.2.5, the version the tests are written for)
#   MOTO_PORT  port                     (default: a free one)
#   MOTO_DIR   pid + log directory      (default: $MOTO_VENV/run-$MOTO_PORT)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${MOTO_VENV:-$root/.venv/moto}
spec=${MOTO_SPEC:-moto[server]==5.2.5}

command -v python3 >/dev/null || { echo "moto-up: python3 is missing (apt-get install python3 python3-venv)" >&2; exit 1; }
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "moto-up: installing $spec into $venv (once, ~30 s)" >&2
  python3 -m venv "$venv" >&2 || { echo "moto-up: python3 cannot create a venv (apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec" >&2
fi

port=${MOTO_PORT:-$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
dir=${MOTO_DIR:-$venv/run-$port}
mkdir -p "$dir"
if "$venv/bin/python" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$port))!=0)"; then
  echo "moto-up: port $port is already in use; choose another with MOTO_PORT" >&2
  exit 1
fi
# Managed policies let IAM AttachRolePolicy with AWS-managed ARNs work as on AWS.
MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup "$venv/bin/python" "$root/scripts/moto_server.py" -H 127.0.0.1 -p "$port" \
  </dev/null >"$dir/moto.log" 2>&1 &
echo $! > "$dir/moto.pid"
for _ in $(seq 1 120); do
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null || { echo "moto-up: moto_server exited; log: $dir/moto.log" >&2; tail -20 "$dir/moto.log" >&2; exit 1; }
  sleep 0.5
done
echo "moto-up: moto_server did not answer within 60 s; log: $dir/moto.log" >&2
exit 1
