#!/usr/bin/env bash
# Builds the page into one directory, www/dist (or $WWW_OUT): the page
# itself, the Trace tab package in pkg/ (crates/web/build-package.sh) and
# the bundled examples in examples/ (the test fixtures with their Ruchy
# sources and the Rust they were transpiled to). Any static file server
# can serve that directory, and `ruchy-trace serve` embeds it. Needs the
# wasm32-unknown-unknown target and wasm-bindgen-cli of the version in
# Cargo.lock.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${WWW_OUT:-$here/dist}"

rm -rf "$out"
mkdir -p "$out/examples"
"$root/crates/web/build-package.sh" "$out/pkg"
cp "$here/index.html" "$here/app.js" "$here/style.css" "$out/"

names=()
for wasm in "$root"/tests/fixtures/*.wasm; do
  [ -e "$wasm" ] || continue
  name="$(basename "$wasm" .wasm)"
  src="$root/tests/fixtures/$name.ruchy"
  [ -e "$src" ] || continue
  cp "$wasm" "$src" "$out/examples/"
  # The transpiled Rust, as the CLI reads it beside the module.
  rs="$root/tests/fixtures/$name.rs"
  if [ -e "$rs" ]; then cp "$rs" "$out/examples/"; fi
  names+=("\"$name\"")
done
if [ -e "$root/tests/fixtures/bench/fib_bench.wasm" ]; then
  mkdir -p "$out/examples/bench"
  cp "$root/tests/fixtures/bench/fib_bench.wasm" "$out/examples/bench/"
fi
(IFS=,; echo "[${names[*]}]") > "$out/examples/index.json"
echo "built the page in $out (${#names[@]} examples)"
