#!/usr/bin/env bash
# FinLake's benchmarks: ratios measured side by side in one run (host/benches/bench/main.rs).
#   ./xtask/bench.sh                      full run on the embedded broker (~10 min)
#   ./xtask/bench.sh --smoke              seconds-long run of every benchmark (CI)
#   ./xtask/bench.sh --brokers HOST:PORT  against your own Kafka cluster
#   ./xtask/bench.sh --help               every option
# Tables are printed; JSON and a Markdown table of the ratios go to target/bench/.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
if [ "${1:-}" != "--help" ] && [ -z "${FINLAKE_SKIP_BUILD:-}" ]; then
  "$ROOT/xtask/setup.sh"
fi
step "benchmarks"
FINLAKE_LOG="${FINLAKE_LOG:-warn,deltalake_core::writer::stats=error}" cargo bench --profile "$FINLAKE_PROFILE" -p finlake --bench finlake -- "$@"
