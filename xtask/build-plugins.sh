#!/usr/bin/env bash
# Builds every plugin in plugins/ and copies the components to plugins/dist/<name>.wasm, where
# pipelines.toml's plugins.dir points:
#   Rust        plugins/<name>/          cargo build --target wasm32-wasip2
#   Python      plugins/python/<name>/   componentize-py (app.py + python/sdk)
#   JavaScript  plugins/js/<name>/       componentize-js (js/sdk + plugin.js, one module)
#   C           plugins/c/<name>/        clang-19 (wasi-libc) + wit-bindgen c + wasm-tools
# Python/JS components are large and slow to build, so each is cached under
# $HOME/.cache/finlake/plugin-builds keyed by the sha256 of its inputs and the tool version.
set -euo pipefail
source "$(dirname "$0")/env.sh"
DIST="$ROOT/plugins/dist"
BUILDS="$HOME/.cache/finlake/plugin-builds"
mkdir -p "$DIST" "$BUILDS"
report() { printf '  %-22s %9d bytes  %s\n' "$1.wasm" "$(stat -c %s "$DIST/$1.wasm")" "$2"; }

step "Rust plugins (wasm32-wasip2)"
(cd "$ROOT/plugins" && CARGO_TARGET_DIR="$FINLAKE_PLUGINS_TARGET" cargo build --release --target wasm32-wasip2 --quiet)
for crate in normalize-trade passthrough chaos fraud-score; do
  cp "$FINLAKE_PLUGINS_TARGET/wasm32-wasip2/release/${crate//-/_}.wasm" "$DIST/$crate.wasm"
  report "$crate" "rust"
done
# Extra builds of chaos with other declared versions (hot-swap tests): v2 and v3 tag their rows
# with their version; "broken" traps on every record (a release the host must refuse). Each has
# its own target dir, so re-runs are no-ops.
for variant in 2.0.0 3.0.0 broken; do
  case "$variant" in
    broken) envs=(CHAOS_VERSION=9.9.9-broken CHAOS_BROKEN=1) ;;
    *) envs=(CHAOS_VERSION="$variant") ;;
  esac
  (cd "$ROOT/plugins" && env "${envs[@]}" CARGO_TARGET_DIR="$FINLAKE_PLUGINS_TARGET/chaos-$variant" \
    cargo build --release --target wasm32-wasip2 --quiet -p chaos)
  cp "$FINLAKE_PLUGINS_TARGET/chaos-$variant/wasm32-wasip2/release/chaos.wasm" "$DIST/chaos-$variant.wasm"
  report "chaos-$variant" "rust (variant)"
done
# normalize-trade candidates for the shadow-run tests: one that reports another exchange for
# TSLA trades, one that traps on MSFT trades.
for variant in exchange:TSLA trap:MSFT; do
  tag="${variant%%:*}"
  (cd "$ROOT/plugins" && NORMALIZE_TRADE_VERSION="0.1.1-$tag" NORMALIZE_TRADE_VARIANT="$variant" \
    CARGO_TARGET_DIR="$FINLAKE_PLUGINS_TARGET/normalize-trade-$tag" cargo build --release --target wasm32-wasip2 --quiet -p normalize-trade)
  cp "$FINLAKE_PLUGINS_TARGET/normalize-trade-$tag/wasm32-wasip2/release/normalize_trade.wasm" "$DIST/normalize-trade-$tag.wasm"
  report "normalize-trade-$tag" "rust (variant)"
done
# fraud-score declaring another version (the restart/swap test swaps to it mid-stream).
(cd "$ROOT/plugins" && FRAUD_SCORE_VERSION=0.2.0 CARGO_TARGET_DIR="$FINLAKE_PLUGINS_TARGET/fraud-score-0.2.0" \
  cargo build --release --target wasm32-wasip2 --quiet -p fraud-score)
cp "$FINLAKE_PLUGINS_TARGET/fraud-score-0.2.0/wasm32-wasip2/release/fraud_score.wasm" "$DIST/fraud-score-0.2.0.wasm"
report "fraud-score-0.2.0" "rust (variant)"
# fraud-score with one more reason on every row (the shadow run of a stateful stage).
(cd "$ROOT/plugins" && FRAUD_SCORE_VERSION=0.2.1-tagged FRAUD_SCORE_VARIANT=tagged \
  CARGO_TARGET_DIR="$FINLAKE_PLUGINS_TARGET/fraud-score-tagged" cargo build --release --target wasm32-wasip2 --quiet -p fraud-score)
cp "$FINLAKE_PLUGINS_TARGET/fraud-score-tagged/wasm32-wasip2/release/fraud_score.wasm" "$DIST/fraud-score-tagged.wasm"
report "fraud-score-tagged" "rust (variant)"

# inputs_hash TOOL_VERSION FILE... : a key for the build cache
inputs_hash() { { echo "$1"; shift; cat "$ROOT"/wit/*.wit "$@"; } | sha256sum | cut -c1-32; }

step "Python plugins (componentize-py $FINLAKE_COMPONENTIZE_PY)"
if ! "$FINLAKE_VENV/bin/componentize-py" --version 2>/dev/null | grep -q "$FINLAKE_COMPONENTIZE_PY"; then
  python3 -m venv "$FINLAKE_VENV"
  "$FINLAKE_VENV/bin/pip" install -q "componentize-py==$FINLAKE_COMPONENTIZE_PY"
fi
for dir in "$ROOT"/plugins/python/*/; do
  name="$(basename "$dir")"; [ "$name" = sdk ] && continue
  key="$(inputs_hash "py-$FINLAKE_COMPONENTIZE_PY" "$ROOT"/plugins/python/sdk/*.py "$dir"*.py)"
  if [ ! -s "$BUILDS/$name-$key.wasm" ]; then
    (cd "$dir" && "$FINLAKE_VENV/bin/componentize-py" -d "$ROOT/wit" -w plugin componentize app \
      -p "$dir" -p "$ROOT/plugins/python/sdk" -o "$BUILDS/$name-$key.wasm.tmp" --stub-wasi >/dev/null)
    mv "$BUILDS/$name-$key.wasm.tmp" "$BUILDS/$name-$key.wasm"
    how="python (built)"
  else
    how="python (cached build)"
  fi
  cp "$BUILDS/$name-$key.wasm" "$DIST/$name.wasm"
  report "$name" "$how"
done

step "JavaScript plugins (componentize-js $FINLAKE_COMPONENTIZE_JS)"
JS="$FINLAKE_NODE/node_modules/.bin/componentize-js"
if ! grep -q "\"version\": \"$FINLAKE_COMPONENTIZE_JS\"" "$FINLAKE_NODE/node_modules/@bytecodealliance/componentize-js/package.json" 2>/dev/null; then
  command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ (apt-get install nodejs npm)" >&2; exit 1; }
  mkdir -p "$FINLAKE_NODE"
  (cd "$FINLAKE_NODE" && npm install --no-audit --no-fund --silent "@bytecodealliance/componentize-js@$FINLAKE_COMPONENTIZE_JS")
fi
for dir in "$ROOT"/plugins/js/*/; do
  name="$(basename "$dir")"; [ "$name" = sdk ] && continue
  key="$(inputs_hash "js-$FINLAKE_COMPONENTIZE_JS" "$ROOT/plugins/js/sdk/finlake-plugin.js" "$dir/plugin.js")"
  if [ ! -s "$BUILDS/$name-$key.wasm" ]; then
    work="$(mktemp -d)"
    cat "$ROOT/plugins/js/sdk/finlake-plugin.js" "$dir/plugin.js" > "$work/plugin.js"
    (cd "$work" && "$JS" plugin.js --wit "$ROOT/wit" -n plugin -d stdio random clocks http fetch-event \
      -o "$BUILDS/$name-$key.wasm.tmp" >/dev/null)
    rm -rf "$work"
    mv "$BUILDS/$name-$key.wasm.tmp" "$BUILDS/$name-$key.wasm"
    how="javascript (built)"
  else
    how="javascript (cached build)"
  fi
  cp "$BUILDS/$name-$key.wasm" "$DIST/$name.wasm"
  report "$name" "$how"
done

step "C plugins (clang-19 + wit-bindgen c + wasm-tools)"
for dir in "$ROOT"/plugins/c/*/; do
  name="$(basename "$dir")"; case "$name" in sdk|template) continue;; esac
  (cd "$dir" && bash ./build.sh "$ROOT/wit" "$DIST/$name.wasm")
  report "$name" "c"
done
