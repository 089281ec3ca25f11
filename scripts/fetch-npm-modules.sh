#!/usr/bin/env bash
# Fetches the four real-world modules the instrumentation benchmark rewrites
# (sql.js, brotli-wasm, esbuild, swc; about 34 MB together) from the npm
# registry into DIR (default: a fresh temporary directory) and prints DIR.
# They are never committed: versions are pinned here instead.
#
#   bash scripts/fetch-npm-modules.sh [DIR]
#   cargo run --release -p ruchy-trace-bench -- instrument "$DIR"/*.wasm
set -euo pipefail
dir="${1:-$(mktemp -d)}"
mkdir -p "$dir"
cd "$dir"
npm pack --silent sql.js@1.17.0 brotli-wasm@3.0.1 esbuild-wasm@0.28.2 @swc/wasm@1.16.18 >/dev/null
tar -xzf sql.js-1.17.0.tgz package/dist/sql-wasm.wasm -O > sql-wasm.wasm
tar -xzf brotli-wasm-3.0.1.tgz package/pkg.node/brotli_wasm_bg.wasm -O > brotli_wasm_bg.wasm
tar -xzf esbuild-wasm-0.28.2.tgz package/esbuild.wasm -O > esbuild.wasm
tar -xzf swc-wasm-1.16.18.tgz package/wasm_bg.wasm -O > swc_wasm_bg.wasm
rm -f ./*.tgz
echo "$dir"
