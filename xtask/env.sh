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
# Tools built once for tests (the Tansu broker); the multi-host tests find it here.
export FINLAKE_TOOLS="${FINLAKE_TOOLS:-$HOME/.cache/finlake/tools}"
export FINLAKE_TANSU="${FINLAKE_TANSU:-$FINLAKE_TOOLS/bin/tansu}"
# moto (an S3-compatible server, PyPI) in its own venv; the object-storage tests find it here.
export FINLAKE_MOTO="${FINLAKE_MOTO:-$HOME/.cache/finlake/moto/bin/moto_server}"
export FINLAKE_COMPONENTIZE_PY=0.25.1
export FINLAKE_COMPONENTIZE_JS=0.23.0
