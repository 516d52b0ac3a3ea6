#!/usr/bin/env bash
# Builds the web dashboard (web/, a Leptos app) into web/dist/, which the host serves at `/`:
#   - rustup target wasm32-unknown-unknown (added if missing)
#   - wasm-bindgen-cli at the version Cargo.lock pins for the wasm-bindgen crate (they must
#     match; installed only when the one on PATH differs)
#   - cargo build --profile $FINLAKE_PROFILE -p finlake-web --target wasm32-unknown-unknown
#   - wasm-bindgen --target web → web/dist/finlake-web.js + finlake-web_bg.wasm (names stripped)
#     (then wasm-opt -Oz when wasm-opt is on PATH; optional)
#   - web/index.html and web/style.css copied beside them
# Safe to run again: cargo is incremental, and the bindgen step is skipped when the compiled
# .wasm has not changed since the last run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
TARGET=wasm32-unknown-unknown
DIST="$ROOT/web/dist"
mkdir -p "$DIST"

step "rust target $TARGET"
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
echo "$TARGET: installed"

step "wasm-bindgen-cli"
# The version of the wasm-bindgen crate in Cargo.lock (web/Cargo.toml pins it exactly).
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$WB_VERSION" ] || { echo "wasm-bindgen is not in Cargo.lock" >&2; exit 1; }
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$WB_VERSION" ]; then
  # --locked uses the CLI's own lockfile; if a crate it pins is missing from the registry
  # (yanked), fall back to resolving its dependencies afresh.
  cargo install --locked --quiet wasm-bindgen-cli --version "$WB_VERSION" ||
    cargo install --quiet wasm-bindgen-cli --version "$WB_VERSION"
fi
echo "$(wasm-bindgen --version)"

step "finlake-web (cargo build --profile $FINLAKE_PROFILE --target $TARGET)"
cargo build --profile "$FINLAKE_PROFILE" -p finlake-web --target "$TARGET"
WASM="$CARGO_TARGET_DIR/$TARGET/$FINLAKE_PROFILE/finlake_web.wasm"

step "wasm-bindgen → web/dist"
OPT="$(command -v wasm-opt || true)"
# What the bindgen step depends on: the compiled module, the tool versions.
stamp="$(sha256sum "$WASM" | cut -d' ' -f1) wasm-bindgen=$WB_VERSION wasm-opt=${OPT:+$("$OPT" --version 2>/dev/null)}"
if [ -f "$DIST/.stamp" ] && [ "$(cat "$DIST/.stamp")" = "$stamp" ] &&
  [ -f "$DIST/finlake-web.js" ] && [ -f "$DIST/finlake-web_bg.wasm" ]; then
  echo "unchanged since the last build: skipped"
else
  # Panic messages carry their file:line, so the name section (~30% of the module) can go.
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$DIST" --out-name finlake-web "$WASM"
  if [ -n "$OPT" ]; then
    "$OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      "$DIST/finlake-web_bg.wasm" -o "$DIST/finlake-web_bg.wasm.opt"
    mv "$DIST/finlake-web_bg.wasm.opt" "$DIST/finlake-web_bg.wasm"
    echo "wasm-opt -Oz: done"
  else
    echo "wasm-opt not on PATH: skipped (optional)"
  fi
  echo "$stamp" >"$DIST/.stamp"
fi
for f in index.html style.css; do
  cmp -s "web/$f" "$DIST/$f" || cp "web/$f" "$DIST/$f"
done

step "web/dist"
# Gzipped copies beside each file: the host serves them to browsers that accept gzip
# (precompressed, so nothing is compressed per request).
total=0
for f in finlake-web_bg.wasm finlake-web.js index.html style.css; do
  [ "$DIST/$f.gz" -nt "$DIST/$f" ] || gzip -9 -k -f "$DIST/$f"
  gz="$(stat -c %s "$DIST/$f.gz")"
  total=$((total + gz))
  printf '  %-22s %9d bytes  %9d gzipped\n' "$f" "$(stat -c %s "$DIST/$f")" "$gz"
done
echo "  page weight (gzipped, all four): $total bytes"
