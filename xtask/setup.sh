#!/usr/bin/env bash
# Installs what FinLake needs on a fresh machine and builds everything:
#   - Debian packages: kcat (Kafka interop tests), build tools for librdkafka
#   - Rust targets: wasm32-wasip2 (plugins)
#   - Tansu, a Kafka-protocol broker in its own process (multi-host tests), into the cache
#   - moto, an S3-compatible server with conditional writes (object-storage tests), into the cache
#   - the plugins (plugins/ → plugins/dist/*.wasm)
#   - the dashboard (web/ → web/dist: Leptos compiled to wasm32-unknown-unknown + wasm-bindgen)
#   - the finlake binary (profile `ci`, target dir $CARGO_TARGET_DIR)
# Safe to run again: each step is skipped or incremental when already done.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

step "system packages"
need=()
command -v kcat >/dev/null || need+=(kcat)
command -v make >/dev/null || need+=(make)
command -v cc >/dev/null || need+=(build-essential)
command -v cmake >/dev/null || need+=(cmake)
# librdkafka with TLS and SASL (PLAIN, SCRAM): OpenSSL headers, found through pkg-config.
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || need+=(libssl-dev)
# The TLS check of the Kafka client talks to openssl s_server.
command -v openssl >/dev/null || need+=(openssl)
# C plugins: clang for wasm32 with wasi-libc (Debian's preview1 sysroot).
command -v clang-19 >/dev/null || need+=(clang-19)
command -v wasm-ld-19 >/dev/null || need+=(lld-19)
[ -f /usr/lib/wasm32-wasi/libc.a ] || need+=(wasi-libc)
[ -d /usr/lib/llvm-19/lib/clang/19/lib/wasi ] || need+=(libclang-rt-19-dev-wasm32)
command -v node >/dev/null || need+=(nodejs npm)
# Multi-host fault tests: network namespaces, veth and bridges.
command -v ip >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "kcat, make, cc, cmake, libssl-dev, clang-19, wasi-libc, node: present"
fi

step "plugin tools (wit-bindgen, wasm-tools)"
command -v wit-bindgen >/dev/null && wit-bindgen --version | grep -q 0.61.1 ||
  cargo install --locked --quiet wit-bindgen-cli --version 0.61.1
command -v wasm-tools >/dev/null && wasm-tools --version | grep -q 1.240.0 ||
  cargo install --locked --quiet wasm-tools --version 1.240.0 --no-default-features --features component,validate
echo "wit-bindgen $(wit-bindgen --version | cut -d' ' -f2), wasm-tools $(wasm-tools --version | cut -d' ' -f2)"

step "Tansu broker (multi-host tests; built once into $FINLAKE_TOOLS, ~8 min cold)"
if [ -x "$FINLAKE_TANSU" ] && grep -q '"tansu 0.6.0' "$FINLAKE_TOOLS/.crates.toml" 2>/dev/null; then
  echo "tansu 0.6.0: $FINLAKE_TANSU"
else
  cargo install --locked --quiet --force tansu --version 0.6.0 --features dynostore,libsql --root "$FINLAKE_TOOLS"
  echo "tansu 0.6.0 installed: $FINLAKE_TANSU"
fi

step "moto S3 server (object-storage tests; a venv in the cache)"
if ! "$FINLAKE_MOTO" --help >/dev/null 2>&1; then
  python3 -m venv "$(dirname "$(dirname "$FINLAKE_MOTO")")"
  "$(dirname "$FINLAKE_MOTO")/pip" install -q "moto[server]==5.2.5"
fi
echo "moto_server: $FINLAKE_MOTO"

step "rust targets"
rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2
rustup target list --installed | grep -q wasm32-wasip2 && echo "wasm32-wasip2: installed"

"$ROOT/xtask/build-plugins.sh"

"$ROOT/xtask/build-web.sh"

step "finlake (cargo build --profile $FINLAKE_PROFILE; a cold build takes a while on 2 cores)"
cargo build --profile "$FINLAKE_PROFILE" -p finlake
echo "binary: $FINLAKE_BIN"
