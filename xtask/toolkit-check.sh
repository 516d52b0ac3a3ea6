#!/usr/bin/env bash
# Follows docs/plugins.md as a newcomer would, for every language: `finlake plugin new`, then
# `build`, then `test` against the template's expected output, then `inspect`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$ROOT"
for lang in rust python js c; do
  name="hello-$lang"
  step "plugin toolkit: $lang"
  "$FINLAKE_BIN" plugin new --lang "$lang" "$name" --dir "$work/plugins"
  "$FINLAKE_BIN" plugin build "$work/plugins/$name" --out-dir "$work/dist"
  "$FINLAKE_BIN" plugin test "$name" --plugins-dir "$work/dist" --cache-dir "$HOME/.cache/finlake/test-plugin-cache" \
    --input "$work/plugins/$name/sample.jsonl" --expect "$work/plugins/$name/expected.jsonl"
  "$FINLAKE_BIN" plugin inspect "$work/dist/$name.wasm" --cache-dir "$HOME/.cache/finlake/test-plugin-cache" | tail -2
done
