#!/usr/bin/env bash
# Builds the plugin SDKs as packages, into $CARGO_TARGET_DIR/sdk (outside the checkout):
#   finlake_plugin-<v>-py3-none-any.whl   Python (pip install it where componentize-py runs)
#   finlake-plugin-<v>.tgz                JavaScript (npm install it next to plugin.js)
#   finlake_plugin.h                      C (one header; FINLAKE_PLUGIN_SDK_VERSION)
# The Rust SDK is the crate plugins/sdk; `finlake plugin new --lang rust` vendors it.
# Prints the directory. Needs the venv and node of xtask/build-plugins.sh.
set -euo pipefail
source "$(dirname "$0")/env.sh"
out="$CARGO_TARGET_DIR/sdk"
rm -rf "$out"; mkdir -p "$out"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
# Build from a copy, so nothing is written into the checkout.
cp -r "$ROOT/plugins/python/sdk" "$build/python"; rm -rf "$build/python/__pycache__"
"$FINLAKE_VENV/bin/pip" wheel -q --no-deps -w "$out" "$build/python" >&2
cp -r "$ROOT/plugins/js/sdk" "$build/js"
(cd "$out" && npm pack --silent "$build/js" >/dev/null)
cp "$ROOT/plugins/c/sdk/finlake_plugin.h" "$out/"
ls "$out" >&2
echo "$out"
