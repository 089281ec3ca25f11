#!/usr/bin/env bash
# Builds the page's generated parts: www/pkg (crates/web compiled to wasm and
# bound with wasm-bindgen) and www/examples (the test fixtures with their
# Ruchy sources). Needs the wasm32-unknown-unknown target and wasm-bindgen-cli
# of the same version as the wasm-bindgen crate in Cargo.lock.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
profile="${PROFILE:-release}"

cd "$root"
if [ "$profile" = release ]; then
  cargo build --release --target wasm32-unknown-unknown -p ruchy-trace-web
else
  cargo build --target wasm32-unknown-unknown -p ruchy-trace-web
fi
rm -rf "$here/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$here/pkg" \
  "$target_dir/wasm32-unknown-unknown/$profile/ruchy_trace_web.wasm"

rm -rf "$here/examples"
mkdir -p "$here/examples"
names=()
for wasm in "$root"/tests/fixtures/*.wasm; do
  [ -e "$wasm" ] || continue
  name="$(basename "$wasm" .wasm)"
  src="$root/tests/fixtures/$name.ruchy"
  [ -e "$src" ] || continue
  cp "$wasm" "$src" "$here/examples/"
  names+=("\"$name\"")
done
if [ -e "$root/tests/fixtures/bench/fib_bench.wasm" ]; then
  mkdir -p "$here/examples/bench"
  cp "$root/tests/fixtures/bench/fib_bench.wasm" "$here/examples/bench/"
fi
(IFS=,; echo "[${names[*]}]") > "$here/examples/index.json"
echo "built $here/pkg and $here/examples (${#names[@]} examples)"
