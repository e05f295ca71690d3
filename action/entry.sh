#!/usr/bin/env bash
# Entry point of the spadeploy GitHub Action (action.yml): installs spadeploy, then runs
# `spadeploy push` (or `diff` for a dry run) with the action's inputs. spadeploy itself writes the
# step summary ($GITHUB_STEP_SUMMARY) and the step outputs ($GITHUB_OUTPUT), and turns manifest
# errors into annotations.
#
# Install (first that applies): the `binary` input; `install: source` builds this action's source
# with cargo; otherwise the release archive for this runner's OS and architecture is downloaded
# from `download-url` (default: this action's GitHub releases), its SHA-256 checked against the
# published `.sha256`, and kept in the runner's tool cache, so the next job on the runner starts
# from there without a download.
set -euo pipefail
action_dir=${SPADEPLOY_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}

# An annotation on the run's page (stdout), and the same words in the log (stderr).
fail() {
  echo "::error::$*"
  echo "spadeploy action: $*" >&2
  exit 1
}

# Sets `triple`: the Rust target of the release archive for this runner. (Functions here set
# variables rather than print them: `fail` inside a command substitution would only end the
# subshell, and its annotation would be captured instead of shown.)
set_target_triple() {
  local os=${RUNNER_OS:-$(uname -s)} arch=${RUNNER_ARCH:-$(uname -m)}
  case "$os/$arch" in
    Linux/X64 | Linux/x86_64) triple=x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64) triple=aarch64-unknown-linux-musl ;;
    macOS/X64 | Darwin/x86_64) triple=x86_64-apple-darwin ;;
    macOS/ARM64 | Darwin/arm64) triple=aarch64-apple-darwin ;;
    Windows/X64 | MINGW*/x86_64 | MSYS*/x86_64) triple=x86_64-pc-windows-msvc ;;
    *) fail "no prebuilt spadeploy for $os/$arch (prebuilt: Linux X64/ARM64, macOS X64/ARM64, Windows X64): set \`install: source\` to build it (needs a Rust toolchain step)" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# The version the action's ref pins (its Cargo.toml), unless the `version` input says otherwise.
pinned_version() {
  if [ -n "${INPUT_VERSION:-}" ]; then
    echo "${INPUT_VERSION#v}"
  else
    sed -n 's/^version = "\(.*\)"$/\1/p' "$action_dir/Cargo.toml" | head -n 1
  fi
}

# Sets `bin` to the release binary, from the tool cache or downloaded and checked into it.
install_release() {
  local version ext exe name base cache tmp expected actual found
  version=$(pinned_version)
  [ -n "$version" ] || fail "cannot tell which spadeploy version to install: set the \`version\` input"
  set_target_triple
  ext=tar.gz exe=spadeploy
  case "$triple" in *windows*) ext=zip exe=spadeploy.exe ;; esac
  name="spadeploy-$version-$triple.$ext"
  cache="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}/tool-cache}/spadeploy/$version/$triple"
  if [ -f "$cache/.complete" ] && [ -x "$cache/$exe" ]; then
    echo "spadeploy $version from the runner's tool cache ($cache)"
    bin=$cache/$exe
    return
  fi
  base=${INPUT_DOWNLOAD_URL:-${GITHUB_SERVER_URL:-https://github.com}/${SPADEPLOY_ACTION_REPOSITORY:?the action repository is unknown: set download-url}/releases/download/v$version}
  base=${base%/}
  tmp=$(mktemp -d)
  echo "downloading $base/$name"
  curl -fsSL --retry 3 -o "$tmp/$name" "$base/$name" ||
    fail "cannot download $base/$name: is $version released for $triple? (set \`version\`, or \`install: source\`)"
  curl -fsSL --retry 3 -o "$tmp/$name.sha256" "$base/$name.sha256" ||
    fail "cannot download $base/$name.sha256: without the published checksum the archive is not used"
  expected=$(cut -d' ' -f1 < "$tmp/$name.sha256" | tr -d '\r\n')
  actual=$(sha256_of "$tmp/$name")
  [ "$expected" = "$actual" ] ||
    fail "checksum mismatch for $name: published $expected, downloaded $actual; the archive was not used (a broken download or a tampered mirror)"
  mkdir -p "$tmp/unpacked"
  case "$ext" in
    zip) unzip -q "$tmp/$name" -d "$tmp/unpacked" ;;
    *) tar -xzf "$tmp/$name" -C "$tmp/unpacked" ;;
  esac
  found=$(find "$tmp/unpacked" -type f -name "$exe" | head -n 1)
  [ -n "$found" ] || fail "$name holds no $exe"
  mkdir -p "$cache"
  mv "$found" "$cache/$exe"
  chmod +x "$cache/$exe"
  touch "$cache/.complete"
  rm -rf "$tmp"
  bin=$cache/$exe
}

echo "::group::Install spadeploy"
started=$(date +%s)
if [ -n "${INPUT_BINARY:-}" ]; then
  bin=$INPUT_BINARY
  [ -x "$bin" ] || fail "binary input: $bin is not an executable file"
elif [ "${INPUT_INSTALL:-release}" = "source" ]; then
  command -v cargo >/dev/null || fail "install: source needs cargo on this runner: add a Rust toolchain step (dtolnay/rust-toolchain)"
  cargo build --release --locked --quiet --manifest-path "$action_dir/Cargo.toml"
  bin=$action_dir/target/release/spadeploy
elif [ "${INPUT_INSTALL:-release}" = "release" ]; then
  install_release
else
  fail "install: \`${INPUT_INSTALL}\` is not one of release, source"
fi
"$bin" --version
echo "installed in $(($(date +%s) - started)) s"
echo "::endgroup::"

command=(push)
[ "${INPUT_DRY_RUN:-false}" = "true" ] && command=(diff)
# `preview: true` on a pull_request event: deploy the pull request's preview (pr-N), or remove
# it once the pull request is closed. spadeploy reads the pull request from $GITHUB_EVENT_PATH.
if [ "${INPUT_PREVIEW:-false}" = "true" ]; then
  event_action=""
  if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
    event_action=$(sed -n 's/^ *"action": *"\([a-z_]*\)".*/\1/p' "$GITHUB_EVENT_PATH" | head -n 1)
  fi
  command=(preview deploy)
  [ "${INPUT_DRY_RUN:-false}" = "true" ] && command=(preview deploy --dry-run)
  [ "$event_action" = "closed" ] && command=(preview remove)
fi
args=("${command[@]}")
[ -n "${INPUT_DIR:-}" ] && [ "${command[*]}" != "preview remove" ] && args+=("$INPUT_DIR")
[ -n "${INPUT_TO:-}" ] && args+=(--to "$INPUT_TO")
[ -n "${INPUT_DISTRIBUTION:-}" ] && args+=(--distribution "$INPUT_DISTRIBUTION")
[ -n "${INPUT_REGION:-}" ] && args+=(--region "$INPUT_REGION")
[ -n "${INPUT_CONFIG:-}" ] && args+=(--config "$INPUT_CONFIG")
extra=()
[ -n "${INPUT_ARGS:-}" ] && read -r -a extra <<< "$INPUT_ARGS"

echo "::group::spadeploy ${args[*]} ${extra[*]:-}"
status=0
"$bin" "${args[@]}" "${extra[@]}" || status=$?
echo "::endgroup::"
exit "$status"
