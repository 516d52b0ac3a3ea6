#!/usr/bin/env bash
# Sets everything up, then runs the demo: embedded Kafka broker, simulated stock trades,
# the stock-trades pipeline (bronze + silver Delta tables under ./lake), API on 127.0.0.1:8080.
# Ctrl-C stops it after a final commit.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/xtask/setup.sh"
cd "$ROOT"
step "finlake run (Ctrl-C to stop)"
exec "$FINLAKE_BIN" run --config "$ROOT/pipelines.toml" "$@"
