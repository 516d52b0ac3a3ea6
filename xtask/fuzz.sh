#!/usr/bin/env bash
# Fuzzes the decoders hostile input reaches first (host/fuzz, built with nightly + cargo-fuzz):
#   config        pipelines.toml text → parse → validate (located problems), secret redaction
#   batch_result  a plugin's batch result → layout decoding and cost bounds
#   json_rows     a plugin's JSON rows → Arrow columns by a table schema
# Usage: xtask/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, every target)
# The corpus grows in $HOME/.cache/finlake/fuzz; a crash or a failed assertion stops the run
# with the input saved under .../fuzz/artifacts/<target>/ (replay it with the same command
# plus that file).
set -euo pipefail
source "$(dirname "$0")/env.sh"
seconds="${1:-${FUZZ_SECONDS:-60}}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(config batch_result json_rows)

tools="$HOME/.cache/finlake/tools"
export PATH="$tools/bin:$PATH"
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  step "installing cargo-fuzz $CARGO_FUZZ_VERSION (once, into $tools)"
  cargo install --locked --quiet --root "$tools" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

# Its own target dir: instrumented builds share nothing with the ci profile.
export CARGO_TARGET_DIR="$HOME/.cache/finlake/fuzz-target"
work="$HOME/.cache/finlake/fuzz"
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  artifacts="$work/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  cp -n "$ROOT/host/fuzz/seeds/$target/"* "$corpus/" 2>/dev/null || true
  step "fuzz $target for ${seconds}s (corpus $corpus)"
  log="$work/$target.log"
  if ! (cd "$ROOT/host" && cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/") >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz $target failed; the input is in $artifacts (log $log)" >&2
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)' "$log" || true
done
echo "fuzzing: no failures in ${#targets[@]} target(s), ${seconds}s each"
