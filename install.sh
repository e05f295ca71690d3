#!/usr/bin/env bash
# Builds spadeploy from this checkout and installs the binary into ~/.cargo/bin
# (or $SPADEPLOY_INSTALL_ROOT/bin). Checks its prerequisites first and says what is missing.
set -euo pipefail
cd "$(dirname "$0")"
root=${SPADEPLOY_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}

missing=()
command -v cargo >/dev/null || missing+=("cargo and rustc 1.85 or newer: install Rust with rustup (https://rustup.rs)")
command -v cc >/dev/null || missing+=("a C compiler (the TLS library builds C code): apt-get install build-essential, or xcode-select --install")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'install.sh: missing prerequisite: %s\n' "${missing[@]}" >&2
  exit 1
fi
rustc_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "${rustc_minor:-0}" -lt 85 ]; then
  echo "install.sh: rustc $(rustc --version | cut -d' ' -f2) is too old; spadeploy needs 1.85 or newer: run 'rustup update'" >&2
  exit 1
fi

echo "install.sh: building spadeploy (release; the first build takes a few minutes)" >&2
cargo install --quiet --locked --path . --root "$root" --force
bin="$root/bin/spadeploy"
echo "install.sh: installed $("$bin" --version) at $bin" >&2
if [ "$(command -v spadeploy)" != "$bin" ]; then
  echo "install.sh: $root/bin is not first on your PATH; add it: export PATH=\"$root/bin:\$PATH\"" >&2
fi
