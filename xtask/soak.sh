#!/usr/bin/env bash
# Soak benchmark: the shipped pipelines at 10x the demo rates (2000 trades/s, 200 crypto
# ticks/s, 1000 bank transactions/s) with maintenance on, for MINUTES (default 30). Samples
# every 10 s: RSS, open files, files and small files per table, log entries since the last
# checkpoint, commit latency p50/p99, records/s, consumer lag. Then a restart (time to its first
# commit) and an exactly-once check of every bronze table with the Python deltalake reader.
# Usage: xtask/soak.sh [MINUTES]   → target/soak/{soak.md,soak.svg,samples.csv}; exit 1 if a
# target is missed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
minutes="${1:-30}"
cd "$ROOT"
if [ -z "${FINLAKE_SKIP_BUILD:-}" ]; then
  "$ROOT/xtask/setup.sh"
  "$ROOT/xtask/build-plugins.sh" >/dev/null
  cargo build --profile "$FINLAKE_PROFILE" -p finlake --quiet
fi
VENV="$FINLAKE_VENV"
if ! "$VENV/bin/python" -c 'import deltalake, pyarrow' 2>/dev/null; then
  echo "installing Python deltalake reader into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q deltalake==1.6.6 pyarrow==21.0.0
fi
step "soak: ${minutes} min"
ROOT="$ROOT" FINLAKE_BIN="$FINLAKE_BIN" "$VENV/bin/python" "$ROOT/xtask/soak.py" "$minutes" "$ROOT/target/soak"
