#!/usr/bin/env bash
# A plugin author's path, from an empty folder outside the checkout, with only the `finlake`
# binary on PATH (no variable pointing into the checkout): for every language `finlake plugin
# new`, then `build`, then `test` against the template's expected output, then `inspect`. Then
# the packaged SDKs (xtask/package-sdks.sh): a Python plugin built against the installed wheel and
# a JavaScript plugin against the installed npm package, with their copied SDK files deleted.
set -euo pipefail
source "$(dirname "$0")/env.sh"
sdk_dist="$("$ROOT/xtask/package-sdks.sh")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/author"
ln -s "$FINLAKE_BIN" "$work/bin/finlake"
export PATH="$work/bin:$PATH"
unset ROOT
cd "$work/author"
cache="$HOME/.cache/finlake/test-plugin-cache"
check() { # NAME: build, test against the expected rows, inspect
  finlake plugin build "$1"
  finlake plugin test "$1/dist/$1.wasm" --cache-dir "$cache" --input "$1/sample.jsonl" --expect "$1/expected.jsonl"
  finlake plugin inspect "$1/dist/$1.wasm" --cache-dir "$cache" | tail -2
}
for lang in rust python js c; do
  step "plugin toolkit: $lang, in an empty folder outside the checkout"
  finlake plugin new --lang "$lang" "hello-$lang"
  check "hello-$lang"
done
grep -q 'version = "=' hello-rust/Cargo.toml && grep -q 'path = "vendor/finlake-plugin-sdk"' hello-rust/Cargo.toml
cmp <(finlake plugin wit) hello-rust/vendor/finlake-plugin-sdk/wit/finlake.wit

step "plugin toolkit: Python against the installed wheel"
finlake plugin new --lang python wheel-py
rm wheel-py/finlake_plugin.py
# componentize-py bundles what its own environment has installed: a fresh one, with the wheel.
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "componentize-py==$FINLAKE_COMPONENTIZE_PY" "$sdk_dist"/finlake_plugin-*.whl
FINLAKE_COMPONENTIZE_PY_BIN="$work/venv/bin/componentize-py" check wheel-py

step "plugin toolkit: JavaScript against the installed npm package"
finlake plugin new --lang js npm-js
rm npm-js/finlake-plugin.js
(cd npm-js && npm install --no-audit --no-fund --silent "$sdk_dist"/finlake-plugin-*.tgz)
check npm-js
grep -q "FINLAKE_PLUGIN_SDK_VERSION" "$sdk_dist/finlake_plugin.h"
echo "plugin toolkit: every language builds outside the checkout"
