#!/usr/bin/env bash
# Interop check with independent tools: the finlake binary ingests 1000 simulated trades
# (10% malformed) from its own broker process, then the Python `deltalake` package opens the
# tables and checks the exactly-once invariants.
set -euo pipefail
source "$(dirname "$0")/env.sh"
VENV="$FINLAKE_VENV"
if ! "$VENV/bin/python" -c 'import deltalake, pyarrow' 2>/dev/null; then
  echo "installing Python deltalake reader into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q deltalake==1.6.6 pyarrow==21.0.0
fi
work="$(mktemp -d)"
cleanup() { kill "${run_pid:-}" "${broker_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$FINLAKE_BIN" broker --topics stock-trades,crypto-prices,bank-transactions --partitions 3 --address-file "$work/addr" >/dev/null &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
addr="$(cat "$work/addr")"
# Ten simulated minutes per second: the trades span a few minutes, so gold windows close (and
# run ahead of the wall clock: the config copy allows a day of future skew).
"$FINLAKE_BIN" produce -b "$addr" -t stock-trades -n 1000 --rate 2000 --malformed-ratio 0.1 --seed 11 --clock-speed 600
sed -e "s#dir = \"plugins/dist\"#dir = \"$ROOT/plugins/dist\"#" \
    -e "s#enabled = true#enabled = false#" \
    -e "s#listen = \"127.0.0.1:8080\"#listen = \"127.0.0.1:18089\"#" \
    -e "s#max_latency_ms = 5000#max_latency_ms = 500#" \
    -e "s#cache_dir = \".finlake/cache\"#cache_dir = \"$HOME/.cache/finlake/test-plugin-cache\"#" \
    -e "s#future_skew = \"5m\"#future_skew = \"1d\"#" \
    "$ROOT/pipelines.toml" > "$work/pipelines.toml"
"$FINLAKE_BIN" run --config "$work/pipelines.toml" --brokers "$addr" 2> "$work/run.log" >/dev/null &
run_pid=$!
for i in $(seq 120); do
  n=$(curl -sf http://127.0.0.1:18089/api/pipelines | python3 -c 'import json,sys; print(next(p for p in json.load(sys.stdin) if p["name"] == "stock-trades")["records_in"])' 2>/dev/null || echo 0)
  [ "$n" -ge 1000 ] && break
  sleep 0.5
done
# Gold follows silver's Delta log: wait until it has processed silver's latest version.
query() { curl -sf http://127.0.0.1:18089/api/query -H 'content-type: application/json' -d "{\"sql\": \"$1\"}"; }
for i in $(seq 60); do
  g=$(query "SELECT count(*) AS n FROM gold_trades_1m" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0]["n"])' 2>/dev/null || echo 0)
  [ "$g" -gt 0 ] && break
  sleep 0.5
done
sleep 2
kill -TERM "$run_pid"; wait "$run_pid" || { cat "$work/run.log"; exit 1; }
unset run_pid
"$VENV/bin/python" "$ROOT/tests/interop/read_lake.py" "$work/lake" 1000
