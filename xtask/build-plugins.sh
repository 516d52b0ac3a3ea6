#!/usr/bin/env bash
# Builds every Rust plugin in plugins/ for wasm32-wasip2 and copies the components to
# plugins/dist/<plugin-name>.wasm, where pipelines.toml's plugins.dir points.
set -euo pipefail
source "$(dirname "$0")/env.sh"
step "plugins (wasm32-wasip2 components)"
cd "$ROOT/plugins"
CARGO_TARGET_DIR="$FINLAKE_PLUGINS_TARGET" cargo build --release --target wasm32-wasip2 --quiet
mkdir -p "$ROOT/plugins/dist"
for crate in normalize-trade passthrough chaos; do
  src="$FINLAKE_PLUGINS_TARGET/wasm32-wasip2/release/${crate//-/_}.wasm"
  cp "$src" "$ROOT/plugins/dist/$crate.wasm"
  printf '  %-18s %8d bytes\n' "$crate.wasm" "$(stat -c %s "$ROOT/plugins/dist/$crate.wasm")"
done
