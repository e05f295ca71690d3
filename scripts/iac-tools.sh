#!/usr/bin/env bash
# Installs the validators of `spadeploy export` (once; later runs only check): cfn-lint for the
# CloudFormation template and python-hcl2 to parse the Terraform output into a local venv, and
# aws-cdk-lib with constructs (npm, the exact versions of scripts/cdk/package-lock.json) to
# synthesize the CDK app. Prints three `export` lines for test.sh to eval: SPADEPLOY_CFN_LINT (the
# cfn-lint executable), SPADEPLOY_HCL2_PYTHON (a python with the `hcl2` module) and
# SPADEPLOY_CDK_NODE_PATH (a node_modules holding aws-cdk-lib and constructs), which
# tests/integration/export.rs needs.
#   IAC_VENV  venv directory   (default: ./.venv/iac next to this repo)
#   IAC_SPEC  pip requirements (default: the versions the tests are written for)
#   IAC_CDK   npm directory    (default: ./.venv/cdk next to this repo)
# `terraform validate` is not among them: it needs the hashicorp/aws provider, which no registry
# reachable here ships.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${IAC_VENV:-$root/.venv/iac}
spec=${IAC_SPEC:-cfn-lint==1.58.0 python-hcl2==8.1.4}
cdk=${IAC_CDK:-$root/.venv/cdk}

command -v python3 >/dev/null || { echo "iac-tools: python3 is missing (apt-get install python3 python3-venv)" >&2; exit 1; }
if [ ! -x "$venv/bin/cfn-lint" ] || ! "$venv/bin/python" -c 'import hcl2' 2>/dev/null; then
  echo "iac-tools: installing $spec into $venv (once, ~30 s)" >&2
  python3 -m venv "$venv" >&2 || { echo "iac-tools: python3 cannot create a venv (apt-get install python3-venv)" >&2; exit 1; }
  # shellcheck disable=SC2086 # the spec is a list of requirements
  "$venv/bin/pip" install --quiet --disable-pip-version-check $spec >&2
fi
"$venv/bin/cfn-lint" --version >/dev/null
"$venv/bin/python" -c 'import hcl2' >/dev/null

# The CDK libraries, reinstalled whenever the committed lock changes (`npm ci` installs exactly
# what it lists, checked against its integrity hashes; no install scripts run).
command -v npm >/dev/null || { echo "iac-tools: npm is missing (apt-get install npm)" >&2; exit 1; }
if ! cmp -s "$root/scripts/cdk/package-lock.json" "$cdk/package-lock.json" ||
  [ ! -f "$cdk/node_modules/aws-cdk-lib/package.json" ]; then
  echo "iac-tools: installing aws-cdk-lib and constructs into $cdk (once, ~10 s, ~190 MB)" >&2
  mkdir -p "$cdk"
  cp "$root/scripts/cdk/package.json" "$root/scripts/cdk/package-lock.json" "$cdk/"
  (cd "$cdk" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >&2
fi
NODE_PATH="$cdk/node_modules" node -e 'require("aws-cdk-lib"); require("constructs")'

printf 'export SPADEPLOY_CFN_LINT=%q\n' "$venv/bin/cfn-lint"
printf 'export SPADEPLOY_HCL2_PYTHON=%q\n' "$venv/bin/python"
printf 'export SPADEPLOY_CDK_NODE_PATH=%q\n' "$cdk/node_modules"
