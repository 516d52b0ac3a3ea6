#!/usr/bin/env bash
# The dashboard and the API against a real `finlake run` of the shipped pipelines (embedded
# broker, simulator on, a lake in a temporary directory):
#   1. the browser suite (tests/browser/dashboard.mjs) in Debian's headless Chromium, driven by
#      npm playwright-core (which never downloads a browser); screenshots of every page go to
#      tests/browser/screenshots/;
#   2. schemathesis (PyPI) against /api/openapi.json: no 5xx on any generated request, every
#      response matches its schema;
#   3. a clean stop: the host exits 0 with live feeds open.
# Installs once into $HOME/.cache/finlake: chromium (apt), playwright-core (npm), schemathesis.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
PLAYWRIGHT=1.65.1
SCHEMATHESIS=4.32.5
ST_VENV="$HOME/.cache/finlake/venv-schemathesis"
PORT="${FINLAKE_BROWSER_PORT:-18090}"
# Its own npm prefix: installing into $FINLAKE_NODE would prune componentize-js's dependencies.
BROWSER_NODE="$HOME/.cache/finlake/node-browser"
OUT="$ROOT/tests/browser/screenshots"

step "browser test tools (chromium, playwright-core $PLAYWRIGHT, schemathesis $SCHEMATHESIS)"
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! grep -q "\"version\": \"$PLAYWRIGHT\"" "$BROWSER_NODE/node_modules/playwright-core/package.json" 2>/dev/null; then
  mkdir -p "$BROWSER_NODE"
  (cd "$BROWSER_NODE" && npm install --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT")
fi
if ! "$ST_VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS"; then
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS"
fi
echo "$(chromium --version 2>/dev/null), playwright-core $PLAYWRIGHT, $("$ST_VENV/bin/st" --version)"
[ -s "$ROOT/web/dist/index.html" ] || "$ROOT/xtask/build-web.sh"

work="$(mktemp -d)"
cleanup() {
  [ -n "${run_pid:-}" ] && kill "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# The shipped config, with its relative paths pointed back at the checkout, the lake in $work,
# 1 s commits instead of 5 s (the suite waits for versions), and its own port.
# config_files are confined to the config's directory (symlinks resolved): a copy, not a link.
cp -r "$ROOT/models" "$work/models"
sed -e "s#dir = \"plugins/dist\"#dir = \"$ROOT/plugins/dist\"#" \
    -e "s#cache_dir = \".finlake/cache\"#cache_dir = \"$HOME/.cache/finlake/test-plugin-cache\"#" \
    -e "s#listen = \"127.0.0.1:8080\"#listen = \"127.0.0.1:$PORT\"\ndashboard = \"$ROOT/web/dist\"#" \
    -e "s#max_latency_ms = 5000#max_latency_ms = 1000#" \
    "$ROOT/pipelines.toml" > "$work/pipelines.toml"
grep -q "dashboard = \"$ROOT/web/dist\"" "$work/pipelines.toml" || { echo "the [api] listen line of pipelines.toml changed: update this script" >&2; exit 1; }

step "finlake run (shipped pipelines, embedded broker) on 127.0.0.1:$PORT"
"$FINLAKE_BIN" run --config "$work/pipelines.toml" --brokers-file "$work/brokers" > "$work/run.out" 2> "$work/run.log" &
run_pid=$!
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && [ -s "$work/brokers" ] && break
  kill -0 "$run_pid" 2>/dev/null || { cat "$work/run.log"; exit 1; }
  sleep 0.5
done
# The dashboard's module is served gzipped (precompressed) and as application/wasm, so browsers
# compile it while it streams in.
headers="$(curl -sf -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/finlake-web_bg.wasm")"
grep -qi '^content-encoding: gzip' <<<"$headers" && grep -qi '^content-type: application/wasm' <<<"$headers" ||
  { echo "finlake-web_bg.wasm is not served gzipped as application/wasm:"; echo "$headers"; exit 1; } >&2
# A trade normalize-trade refuses (NVDA is not in allowed_symbols): the suite allows NVDA with
# a config edit, then replays this dead letter from the dashboard.
echo 'NVDA|{"trade_id":"BROWSER-NVDA-1","symbol":"NVDA","price":120.5,"quantity":3,"side":"buy","ts":'"$(date +%s000)"'}' |
  kcat -P -b "$(cat "$work/brokers")" -t stock-trades -K '|'

step "browser suite (headless Chromium)"
rm -rf "$OUT"
BROWSER_NODE="$BROWSER_NODE" node "$ROOT/tests/browser/dashboard.mjs" \
  --url "http://127.0.0.1:$PORT" --out "$OUT" --broken "$ROOT/plugins/dist/chaos-broken.wasm" ||
  { tail -50 "$work/run.log"; exit 1; }

step "schemathesis: every operation of /api/openapi.json, generated requests"
# The live feed never ends by design, so it is left out; everything else is fair game (the
# host runs on a scratch copy of the config and lake).
# (Run from $work: schemathesis keeps its example database in the current directory.)
(cd "$work" && PYTHONPATH="$ROOT/tests/api" SCHEMATHESIS_HOOKS=schemathesis_hooks \
  "$ST_VENV/bin/st" run "http://127.0.0.1:$PORT/api/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,content_type_conformance \
  --exclude-path /api/events --max-examples 25 --request-timeout 60 --generation-deterministic) ||
  { tail -50 "$work/run.log"; exit 1; }

step "clean stop"
kill -TERM "$run_pid"
wait "$run_pid" || { echo "finlake run exited with $?" >&2; tail -50 "$work/run.log"; exit 1; }
unset run_pid
grep -q "dashboard served at /" "$work/run.log" || { echo "no 'dashboard served' log line" >&2; exit 1; }
echo "browser suite, schemathesis and clean stop passed; screenshots in $OUT"
