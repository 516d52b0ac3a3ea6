#!/usr/bin/env bash
# The same trivial transform (the `finlake plugin new` template: parse a JSON value, emit one row)
# in every language, through the real host runtime at batch 1000: cost per record (median of 10
# batches), component size, load time with a cold compile cache and with a warm one.
set -euo pipefail
source "$(dirname "$0")/env.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$ROOT"
for i in $(seq 10000); do echo "{\"symbol\":\"AAPL\",\"price\":$((i % 500 + 1)).25}"; done > "$work/input.jsonl"
printf '| language | ns/record (batch 1000) | component size | load, cold cache | load, warm cache |\n|---|---|---|---|---|\n'
for lang in rust python js c; do
  name="bench-$lang"
  "$FINLAKE_BIN" plugin new --lang "$lang" "$name" --dir "$work" >/dev/null
  "$FINLAKE_BIN" plugin build "$work/$name" --out-dir "$work/dist" >/dev/null 2>&1
  run() { FINLAKE_LOG=error "$FINLAKE_BIN" plugin test "$work/dist/$name.wasm" --input "$work/input.jsonl" --show 0 --cache-dir "$work/cache-$lang"; }
  cold="$(run | sed -n 's/.*loaded in \([0-9.]*\) ms.*/\1/p')"
  warm_out="$(run)"
  warm="$(echo "$warm_out" | sed -n 's/.*loaded in \([0-9.]*\) ms.*/\1/p')"
  per="$(echo "$warm_out" | sed -n 's/.*ms (\([0-9]*\) ns\/record).*/\1/p' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  size="$(stat -c %s "$work/dist/$name.wasm")"
  printf '| %s | %s | %s bytes | %s ms | %s ms |\n' "$lang" "$per" "$size" "$cold" "$warm"
done
