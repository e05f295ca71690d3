#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints (Rust, and the GitHub workflows with actionlint and
# zizmor), unit tests, and integration tests that run the built binary against moto's AWS
# emulator, the generated edge functions under Node.js and the framework builds in headless
# Chromium, the exported CloudFormation and Terraform through cfn-lint and python-hcl2, and the
# exported CDK app synthesized with aws-cdk-lib, its template through cfn-lint. Installs moto, the
# linters and the IaC validators into ./.venv on first use, starts moto on a free 127.0.0.1 port,
# and stops it when done, whatever happens.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v cargo >/dev/null || missing+=("cargo (Rust toolchain: https://rustup.rs)")
command -v python3 >/dev/null || missing+=("python3 (apt-get install python3 python3-venv)")
command -v node >/dev/null || missing+=("node, to run the generated edge functions (apt-get install nodejs)")
command -v npm >/dev/null || missing+=("npm, to pack and install the npm packages offline (apt-get install npm)")
# The browser test (tests/integration/frameworks.rs) opens every framework fixture in headless Chromium:
# Debian's package, installed here when missing and this is root.
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test.sh: installing chromium for the browser test (apt-get install chromium)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 || true
fi
[ -x "$chromium" ] || missing+=("headless Chromium at $chromium, for the browser test (as root: apt-get install chromium; or set CHROMIUM to a Chromium or Chrome binary)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'test.sh: missing prerequisite: %s\n' "${missing[@]}" >&2
  exit 1
fi

export MOTO_PORT=${MOTO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
endpoint=$(scripts/moto-up.sh)
trap 'scripts/moto-down.sh' EXIT
echo "test.sh: moto is serving at $endpoint" >&2
# The validators of `spadeploy export` (cfn-lint, python-hcl2, aws-cdk-lib): SPADEPLOY_CFN_LINT,
# SPADEPLOY_HCL2_PYTHON, SPADEPLOY_CDK_NODE_PATH.
eval "$(scripts/iac-tools.sh)"
# The python with boto3 that moto runs on: tests/iac/create_stack.py creates an exported stack.
export SPADEPLOY_MOTO_PYTHON="${MOTO_VENV:-$PWD/.venv/moto}/bin/python"

# The tests talk to the emulator only; no user AWS configuration may leak in.
export SPADEPLOY_TEST_ENDPOINT=$endpoint
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export XDG_CACHE_HOME="$PWD/target/test-cache"  # the hash cache stays out of $HOME
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
scripts/lint-workflows.sh
cargo test --locked "$@"
