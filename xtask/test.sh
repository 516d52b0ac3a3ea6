#!/usr/bin/env bash
# Sets everything up and runs every check: formatting, clippy, unit and integration tests
# (real plugins, real Kafka protocol, real Delta tables, kcat interop), the Python deltalake
# reader against a lake the binary writes, and the dashboard in headless Chromium plus
# schemathesis against the running API.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/xtask/setup.sh"
cd "$ROOT"

step "cargo fmt --check"
cargo fmt --all -- --check
(cd plugins && cargo fmt --all -- --check)

step "cargo clippy -D warnings"
cargo clippy --profile "$FINLAKE_PROFILE" -p finlake -p finlake-api -p finlake-config -p finlake-records --all-targets -- -D warnings
(cd host/fuzz && cargo fmt -- --check)
cargo clippy --profile "$FINLAKE_PROFILE" -p finlake-web --target wasm32-unknown-unknown -- -D warnings
(cd plugins && CARGO_TARGET_DIR="$FINLAKE_PLUGINS_TARGET" cargo clippy --release --target wasm32-wasip2 --quiet -- -D warnings)

step "tests (unit + integration)"
# The fraud features/model crate (shared with a Wasm plugin), the Rust SDK and normalize-trade run
# their tests natively.
(cd plugins && CARGO_TARGET_DIR="$FINLAKE_PLUGINS_TARGET" cargo test --release --quiet -p fraud-model -p finlake-plugin-sdk -p normalize-trade)
# The API types, the config crate, the batch layout and row decoding, and the dashboard's logic
# (formatting, chart scaling, candles) run natively.
cargo test --profile "$FINLAKE_PROFILE" -p finlake-api -p finlake-web -p finlake-config -p finlake-records
cargo test --profile "$FINLAKE_PROFILE" -p finlake -- --test-threads 2

step "fraud model: evaluation on a held-out stream (numbers in README)"
"$FINLAKE_BIN" fraud eval --model "$ROOT/models/fraud-lr.json"

FINLAKE_LOG=warn "$ROOT/xtask/toolkit-check.sh"
FINLAKE_LOG=warn "$ROOT/xtask/docs-check.sh"

step "fuzz smoke: config, batch result, JSON rows (15 s each; xtask/fuzz.sh for longer runs)"
"$ROOT/xtask/fuzz.sh" 15

step "interop: Python deltalake reads what finlake wrote"
"$ROOT/xtask/interop.sh"

step "soak smoke: 2 min at 10x the demo rates (xtask/soak.sh 30 for the full run)"
FINLAKE_SKIP_BUILD=1 "$ROOT/xtask/soak.sh" 2

step "benchmark smoke: every benchmark for seconds (xtask/bench.sh for the full run)"
FINLAKE_SKIP_BUILD=1 "$ROOT/xtask/bench.sh" --smoke --out "$ROOT/target/bench/smoke"

"$ROOT/xtask/browser-test.sh"
echo "all checks passed"
