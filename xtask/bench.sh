#!/usr/bin/env bash
# Prints FinLake's performance numbers (same `ci` profile and target dir as tests and demo).
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/xtask/setup.sh"
cd "$ROOT"
step "benchmarks"
FINLAKE_LOG=warn cargo bench --profile "$FINLAKE_PROFILE" -p finlake --bench throughput
