#!/usr/bin/env bash
# Browser tests of ruchy-trace: the wasm-bindgen-test tests of crates/web and
# the end-to-end test of the Trace tab (www/), both in headless Chromium.
# Installs what it needs on an empty Debian machine (as root): Chromium and
# its driver, the wasm32-unknown-unknown target, and wasm-bindgen-cli of the
# exact version in Cargo.lock. Ends with `browser: N passed, M failed` and
# exits non-zero when anything failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
start=$(date +%s)
out_dir="${CARGO_TARGET_DIR:-$root/target}/browser-tests"
mkdir -p "$out_dir"

die() {
  echo "browser-tests: $*" >&2
  echo "browser: 0 passed, 1 failed"
  exit 1
}

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update && apt-get install -y --no-install-recommends "${need_apt[@]}"; } >"$out_dir/apt.log" 2>&1 ||
    { tail -20 "$out_dir/apt.log"; die "apt-get install failed"; }
fi

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || die "cannot add the wasm32-unknown-unknown target"

version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$version" ] || die "no wasm-bindgen in Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ] ||
  ! command -v wasm-bindgen-test-runner >/dev/null 2>&1; then
  echo "== installing wasm-bindgen-cli $version"
  cargo install wasm-bindgen-cli --version "$version" >"$out_dir/wasm-bindgen-cli.log" 2>&1 ||
    { tail -20 "$out_dir/wasm-bindgen-cli.log"; die "cargo install wasm-bindgen-cli failed"; }
fi

passed=0
failed=0

echo "== wasm-bindgen-test (crates/web) in headless Chromium"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
cargo test --target wasm32-unknown-unknown -p ruchy-trace-web --test browser 2>&1 | tee "$out_dir/wasm-bindgen-test.log"
status=${PIPESTATUS[0]}
line="$(grep -E '^test result: ' "$out_dir/wasm-bindgen-test.log" | tail -1)"
p="$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")"
f="$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")"
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [ "$status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi

echo "== building the page (www/pkg, www/examples)"
if www/build.sh; then
  echo "== end-to-end page test"
  python3 crates/web/e2e/page_test.py --screenshot "$out_dir/trace-tab.png" | tee "$out_dir/page-test.log"
  status=${PIPESTATUS[0]}
  line="$(grep -E '^page: ' "$out_dir/page-test.log" | tail -1)"
  p="$(sed -nE 's/^page: ([0-9]+) passed.*/\1/p' <<<"$line")"
  f="$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
else
  echo "www/build.sh failed"
  failed=$((failed + 1))
fi

echo "browser tests took $(($(date +%s) - start)) s; screenshot: $out_dir/trace-tab.png"
echo "browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
