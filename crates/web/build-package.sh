#!/usr/bin/env bash
# Builds the npm package of the Trace tab into OUT (default
# $CARGO_TARGET_DIR/npm/ruchy-trace-web): crates/web compiled to wasm and
# bound with wasm-bindgen (--target web), the <ruchy-trace-tab> element and
# its worker, package.json and README.md. Needs the wasm32-unknown-unknown
# target and wasm-bindgen-cli of the version in Cargo.lock.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="${1:-$target_dir/npm/ruchy-trace-web}"

crate_version="$(awk -F'"' '/^version = / { print $2; exit }' "$root/Cargo.toml")"
package_version="$(awk -F'"' '/"version":/ { print $4; exit }' "$here/package.json")"
if [ "$crate_version" != "$package_version" ]; then
  echo "crates/web/package.json says version $package_version, the workspace $crate_version" >&2
  exit 1
fi

cd "$root"
cargo build --release --target wasm32-unknown-unknown -p ruchy-trace-web
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" \
  "$target_dir/wasm32-unknown-unknown/release/ruchy_trace_web.wasm"
cp "$here/js/trace-tab.js" "$here/js/worker.js" "$here/package.json" "$here/README.md" "$out/"
echo "built the package in $out"
