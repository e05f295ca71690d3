#!/usr/bin/env bash
# Entry point of the spadeploy GitHub Action (action.yml): installs spadeploy unless a binary is
# given, then runs `spadeploy push` (or `diff` for a dry run) with the action's inputs. spadeploy
# itself writes the step summary ($GITHUB_STEP_SUMMARY) and the step outputs ($GITHUB_OUTPUT), and
# turns manifest errors into annotations.
set -euo pipefail
action_dir=${SPADEPLOY_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}

echo "::group::Install spadeploy"
if [ -n "${INPUT_BINARY:-}" ]; then
  bin=$INPUT_BINARY
  [ -x "$bin" ] || { echo "::error::binary input: $bin is not an executable file"; exit 1; }
else
  command -v cargo >/dev/null || { echo "::error::cargo is missing on this runner: add a Rust toolchain step (dtolnay/rust-toolchain) or give the action a prebuilt binary"; exit 1; }
  cargo build --release --locked --quiet --manifest-path "$action_dir/Cargo.toml"
  bin=$action_dir/target/release/spadeploy
fi
"$bin" --version
echo "::endgroup::"

command=push
[ "${INPUT_DRY_RUN:-false}" = "true" ] && command=diff
args=("$command")
[ -n "${INPUT_DIR:-}" ] && args+=("$INPUT_DIR")
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
