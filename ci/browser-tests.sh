#!/usr/bin/env bash
# Browser tests of ruchy-trace, in headless Chromium:
# - the wasm-bindgen-test tests of crates/web,
# - the page test (www/, built into www/dist): every bundled example traces
#   to the lines the native CLI writes, the function table matches
#   `ruchy-trace report`, links, bad input, Stop,
# - the package test: `npm pack` of crates/web, embedded in an empty page.
# Installs what it needs on an empty Debian machine (as root): Chromium and
# its driver, Python, npm, the wasm32-unknown-unknown target and
# wasm-bindgen-cli of the exact version in Cargo.lock. Ends with
# `browser: N passed, M failed`; every suite's count of passed checks is
# asserted exactly, so a check that silently stops running fails too.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
start=$(date +%s)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out_dir="$target_dir/browser-tests"
cli_dir="$out_dir/cli"
rm -rf "$cli_dir"
mkdir -p "$out_dir" "$cli_dir"

# Exact numbers of passing checks per suite.
expect_wasm_bindgen=15
expect_page=34
expect_package=8

die() {
  echo "browser-tests: $*" >&2
  echo "browser: 0 passed, 1 failed"
  exit 1
}

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
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

# Adds a suite's counts from the `SUITE: N passed, M failed` line of LOG;
# a suite that exits non-zero without a failure, or passes a number of
# checks other than EXPECTED, counts as one more failure.
tally() {
  local status="$1" log="$2" pattern="$3" expected="$4" what="$5"
  local line p f
  line="$(grep -E "$pattern" "$log" | tail -1)"
  p="$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")"
  f="$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
  if [ "${p:-0}" -ne "$expected" ]; then
    echo "$what: ${p:-0} checks passed, expected exactly $expected"
    failed=$((failed + 1))
  fi
}

echo "== the native CLI, for the expected traces"
# The binary `cargo test --release` built: building `-p ruchy-trace` alone
# would unify wasmtime's features differently and compile it a second time.
cargo test --release --no-run >"$out_dir/cli-build.log" 2>&1 ||
  { tail -20 "$out_dir/cli-build.log"; die "cargo test --release --no-run failed"; }
cli="$target_dir/release/ruchy-trace"
# The page traces calls out to its WASI shim by default: --imports.
mkdir -p "$cli_dir/corpus"
for src in tests/fixtures/*.ruchy tests/fixtures/corpus/{closure_let,methods_impl,top_level}.ruchy; do
  name="$(basename "$src" .ruchy)"
  dir="$(dirname "$src")"
  [ -e "$dir/$name.wasm" ] || continue
  trace="$cli_dir/${dir#tests/fixtures}/$name.txt"
  "$cli" run --imports --no-timestamps -o "$trace" "$dir/$name.wasm" >/dev/null 2>&1
  [ -s "$trace" ] || die "ruchy-trace run wrote no trace for $src"
done
"$cli" run --imports --invoke run --no-timestamps --filter '!*abs*' -o "$cli_dir/values.txt" \
  tests/fixtures/values/values.wasm -- 3 >/dev/null || die "ruchy-trace run failed on values.wasm"
"$cli" record --hooks --invoke run --all -o "$cli_dir/fib_bench.rtrace" tests/fixtures/bench/fib_bench.wasm -- 20 >/dev/null ||
  die "ruchy-trace record failed"
"$cli" report "$cli_dir/fib_bench.rtrace" >"$cli_dir/fib_bench.report.txt" || die "ruchy-trace report failed"

echo "== wasm-bindgen-test (crates/web) in headless Chromium"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
cargo test --release --target wasm32-unknown-unknown -p ruchy-trace-web --test browser 2>&1 | tee "$out_dir/wasm-bindgen-test.log"
tally "${PIPESTATUS[0]}" "$out_dir/wasm-bindgen-test.log" '^test result: ' "$expect_wasm_bindgen" "wasm-bindgen-test"

echo "== building the page (www/dist)"
if WWW_OUT="$root/www/dist" www/build.sh; then
  echo "== page test"
  (cd crates/web/e2e && python3 page_test.py --www "$root/www/dist" --cli "$cli_dir" --serve "$cli" --out "$out_dir") | tee "$out_dir/page-test.log"
  tally "${PIPESTATUS[0]}" "$out_dir/page-test.log" '^page: ' "$expect_page" "page test"
  echo "== package test (npm pack)"
  (cd crates/web/e2e && python3 package_test.py --package "$root/www/dist/pkg" --out "$out_dir") | tee "$out_dir/package-test.log"
  tally "${PIPESTATUS[0]}" "$out_dir/package-test.log" '^package: ' "$expect_package" "package test"
else
  echo "www/build.sh failed"
  failed=$((failed + 1))
fi

echo "browser tests took $(($(date +%s) - start)) s; screenshots in $out_dir"
echo "browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
