#!/usr/bin/env bash
# Builds the npm packages from release binaries and packs them (npm pack): `spadeploy` (the
# launcher, npm/spadeploy) and one `@spadeploy/<os>-<cpu>` package per binary given, each
# declaring its `os` and `cpu` so npm installs only the one that matches the machine. Versions
# are set to VERSION throughout. Used by .github/workflows/release.yml and by tests/integration/npm.rs.
#   scripts/npm-packages.sh VERSION OUT_DIR TARGET=BINARY [TARGET=BINARY ...]
# TARGET is a Rust target triple, e.g. x86_64-unknown-linux-musl=target/release/spadeploy.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 VERSION OUT_DIR TARGET=BINARY..." >&2; exit 64; }
version=$1 out=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
command -v npm >/dev/null || { echo "npm-packages: npm is missing" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# npm's names for a Rust target: os cpu
npm_platform() {
  case "$1" in
    x86_64-unknown-linux-*) echo "linux x64" ;;
    aarch64-unknown-linux-*) echo "linux arm64" ;;
    x86_64-apple-darwin) echo "darwin x64" ;;
    aarch64-apple-darwin) echo "darwin arm64" ;;
    x86_64-pc-windows-*) echo "win32 x64" ;;
    *) echo "npm-packages: no npm platform for $1" >&2; exit 1 ;;
  esac
}

for spec in "$@"; do
  target=${spec%%=*} binary=${spec#*=}
  [ -x "$binary" ] || { echo "npm-packages: $binary is not an executable file" >&2; exit 1; }
  read -r os cpu <<< "$(npm_platform "$target")"
  exe=spadeploy
  [ "$os" = win32 ] && exe=spadeploy.exe
  dir="$work/$os-$cpu"
  mkdir -p "$dir/bin"
  cp "$binary" "$dir/bin/$exe"
  chmod +x "$dir/bin/$exe"
  cat > "$dir/package.json" <<JSON
{
  "name": "@spadeploy/$os-$cpu",
  "version": "$version",
  "description": "The spadeploy binary for $os $cpu (installed by the spadeploy package)",
  "license": "MIT OR Apache-2.0",
  "repository": { "type": "git", "url": "git+https://github.com/spadeploy/spadeploy.git" },
  "os": ["$os"],
  "cpu": ["$cpu"],
  "files": ["bin/$exe"],
  "preferUnplugged": true
}
JSON
  (cd "$dir" && npm pack --silent --pack-destination "$out" >/dev/null)
done

cp -R "$root/npm/spadeploy" "$work/spadeploy"
node -e '
  const fs = require("fs");
  const [file, version] = process.argv.slice(1);
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  pkg.version = version;
  for (const name of Object.keys(pkg.optionalDependencies)) pkg.optionalDependencies[name] = version;
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
' "$work/spadeploy/package.json" "$version"
(cd "$work/spadeploy" && npm pack --silent --pack-destination "$out" >/dev/null)
ls "$out"/*.tgz
