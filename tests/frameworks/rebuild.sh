#!/usr/bin/env bash
# Rebuilds every framework fixture from its pinned sources and replaces its build/ folder
# with the framework's output, exactly as built.
#
#   tests/frameworks/rebuild.sh              # all fixtures, one after the other
#   tests/frameworks/rebuild.sh astro nuxt   # only these
#
# Each fixture's expect.toml names its output folder (`output_dir`, relative to project/) and
# its build command (`build_command`, run in project/). npm projects are installed with
# `npm ci` from their package-lock.json, so the only network used is the npm registry
# (Hugo comes from Debian: `apt-get install hugo`). Builds run one at a time: the machine is small.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# No framework phones home.
export NEXT_TELEMETRY_DISABLED=1 ASTRO_TELEMETRY_DISABLED=1 NG_CLI_ANALYTICS=false \
  NUXT_TELEMETRY_DISABLED=1 GATSBY_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 \
  DOCUSAURUS_IGNORE_SSG_WARNINGS=true CI=1 \
  NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_UPDATE_NOTIFIER=false

# One string value of a top-level key in expect.toml.
toml_get() {
  sed -n "s/^$2[[:space:]]*=[[:space:]]*\"\(.*\)\"[[:space:]]*\(#.*\)\?$/\1/p" "$1" | head -n1
}

if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for d in */expect.toml; do names+=("${d%/expect.toml}"); done
fi

failed=()
for name in "${names[@]}"; do
  expect="$here/$name/expect.toml"
  project="$here/$name/project"
  [ -f "$expect" ] || { echo "rebuild: no fixture named $name" >&2; exit 2; }
  out="$(toml_get "$expect" output_dir)"
  cmd="$(toml_get "$expect" build_command)"
  [ -n "$out" ] && [ -n "$cmd" ] || { echo "rebuild: $expect lacks output_dir or build_command" >&2; exit 2; }
  echo "== $name: $cmd -> project/$out"
  (
    cd "$project"
    rm -rf "./$out"
    if [ -f package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
    bash -c "$cmd"
  ) || { echo "rebuild: $name failed" >&2; failed+=("$name"); continue; }
  [ -f "$project/$out/index.html" ] || [ -d "$project/$out" ] || { echo "rebuild: $name produced no $out" >&2; failed+=("$name"); continue; }
  rm -rf "$here/$name/build"
  mkdir -p "$here/$name/build"
  # cp -L: Nuxt's dist/ is a symlink; copy the files, dotfiles included (.vite/manifest.json).
  cp -RL "$project/$out/." "$here/$name/build/"
  echo "   $(find "$here/$name/build" -type f | wc -l) files, $(du -sh "$here/$name/build" | cut -f1)"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "rebuild: failed: ${failed[*]}" >&2
  exit 1
fi
echo "rebuild: done (${#names[@]} fixtures); all build/ folders: $(du -shc "$here"/*/build | tail -n1 | cut -f1)"
