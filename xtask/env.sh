# Shared settings of the xtask scripts (sourced, not run).
# One cargo profile (`ci`) for demo, tests and benchmarks, and one persistent target directory
# outside the checkout, so every script and CI reuse the same build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/finlake/target}"
export FINLAKE_PLUGINS_TARGET="${FINLAKE_PLUGINS_TARGET:-$HOME/.cache/finlake/plugins-target}"
export FINLAKE_PROFILE=ci
export FINLAKE_BIN="$CARGO_TARGET_DIR/$FINLAKE_PROFILE/finlake"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
# Plugin toolchains for other languages (pinned; installed on demand by build-plugins.sh).
export FINLAKE_VENV="${FINLAKE_VENV:-$HOME/.cache/finlake/venv}"
export FINLAKE_NODE="${FINLAKE_NODE:-$HOME/.cache/finlake/node}"
export FINLAKE_COMPONENTIZE_PY=0.25.1
export FINLAKE_COMPONENTIZE_JS=0.23.0
