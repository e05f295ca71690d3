#!/usr/bin/env bash
# Packs one built spadeploy binary as a release archive, laid out as the GitHub Action and the
# install instructions expect: spadeploy-<version>-<target>.tar.gz (.zip for Windows) holding
# spadeploy-<version>-<target>/spadeploy[.exe] and README.md, plus <archive>.sha256
# ("<hex>  <archive>", as sha256sum writes it). Used by .github/workflows/release.yml and by the
# tests, which serve the result from a loopback stand-in for GitHub releases.
#   scripts/package-release.sh BINARY TARGET VERSION OUT_DIR
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BINARY TARGET VERSION OUT_DIR" >&2; exit 64; }
binary=$1 target=$2 version=$3 out=$4
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$binary" ] || { echo "package-release: $binary is not an executable file" >&2; exit 1; }
name="spadeploy-$version-$target"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/$name" "$out"
exe=spadeploy
case "$target" in *windows*) exe=spadeploy.exe ;; esac
cp "$binary" "$work/$name/$exe"
cp "$root/README.md" "$work/$name/"
out=$(cd "$out" && pwd)
case "$target" in
  *windows*)
    archive="$name.zip"
    (cd "$work" && if command -v 7z >/dev/null; then 7z a -tzip -bd "$out/$archive" "$name" >/dev/null; else zip -qr "$out/$archive" "$name"; fi)
    ;;
  *)
    archive="$name.tar.gz"
    tar -C "$work" -czf "$out/$archive" "$name"
    ;;
esac
if command -v sha256sum >/dev/null; then
  (cd "$out" && sha256sum "$archive" > "$archive.sha256")
else
  (cd "$out" && shasum -a 256 "$archive" > "$archive.sha256")
fi
echo "$out/$archive"
