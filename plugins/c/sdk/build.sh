#!/usr/bin/env bash
# Builds the C plugin in the current folder: build.sh WIT_DIR OUT.wasm
# Needs: clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 (Debian), wit-bindgen and
# wasm-tools (cargo install --locked wit-bindgen-cli@0.61.1 wasm-tools@1.240.0).
set -euo pipefail
wit="$1"; out="$2"
here="$(pwd)"
sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
need() { command -v "$1" >/dev/null || { echo "$1 not found: $2" >&2; exit 1; }; }
need clang-19 "apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32"
need wasm-ld-19 "apt-get install lld-19"
need wit-bindgen "cargo install --locked wit-bindgen-cli --version 0.61.1"
need wasm-tools "cargo install --locked wasm-tools --version 1.240.0 --no-default-features --features component,validate"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
wit-bindgen c --world plugin --out-dir "$work" "$wit" >/dev/null 2>&1 || wit-bindgen c --world plugin --out-dir "$work" "$wit"
clang-19 --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 -fuse-ld=lld \
  -I"$work" -I"$here" -I"$sdk" "$here/plugin.c" "$work/plugin.c" "$work/plugin_component_type.o" \
  -o "$work/core.wasm"
wasm-tools component new "$work/core.wasm" -o "$out"
