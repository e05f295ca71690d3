#!/usr/bin/env bash
# Installs the validators of `spadeploy export` into a local venv (once; later runs only check):
# cfn-lint for the CloudFormation template and python-hcl2 to parse the Terraform output. Prints
# two `export` lines for test.sh to eval: SPADEPLOY_CFN_LINT (the cfn-lint executable) and
# SPADEPLOY_HCL2_PYTHON (a python with the `hcl2` module), which tests/integration/export.rs needs.
#   IAC_VENV  venv directory   (default: ./.venv/iac next to this repo)
#   IAC_SPEC  pip requirements (default: the versions the tests are written for)
# `terraform validate` is not among them: it needs the hashicorp/aws provider, which no registry
# reachable here ships.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${IAC_VENV:-$root/.venv/iac}
spec=${IAC_SPEC:-cfn-lint==1.58.0 python-hcl2==8.1.4}

command -v python3 >/dev/null || { echo "iac-tools: python3 is missing (apt-get install python3 python3-venv)" >&2; exit 1; }
if [ ! -x "$venv/bin/cfn-lint" ] || ! "$venv/bin/python" -c 'import hcl2' 2>/dev/null; then
  echo "iac-tools: installing $spec into $venv (once, ~30 s)" >&2
  python3 -m venv "$venv" >&2 || { echo "iac-tools: python3 cannot create a venv (apt-get install python3-venv)" >&2; exit 1; }
  # shellcheck disable=SC2086 # the spec is a list of requirements
  "$venv/bin/pip" install --quiet --disable-pip-version-check $spec >&2
fi
"$venv/bin/cfn-lint" --version >/dev/null
"$venv/bin/python" -c 'import hcl2' >/dev/null
printf 'export SPADEPLOY_CFN_LINT=%q\n' "$venv/bin/cfn-lint"
printf 'export SPADEPLOY_HCL2_PYTHON=%q\n' "$venv/bin/python"
