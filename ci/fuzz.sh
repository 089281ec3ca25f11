#!/usr/bin/env bash
# Builds the four fuzz targets and runs each for FUZZ_SECONDS (default 60).
# A crash, a leak, a timeout or an out-of-memory fails the run, and the
# input that caused it is kept under fuzz/artifacts/.
#
# Needs nightly Rust (libFuzzer's sanitizer coverage) and cargo-fuzz; both
# are installed here when missing, so it runs on an empty machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=(instrument_smith instrument_bytes decode_table decode_records)

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked
fi

# Every target of fuzz/Cargo.toml, so a target that no longer builds fails.
cargo +nightly fuzz build --release

for t in "${targets[@]}"; do
    echo "== fuzz $t for ${seconds}s"
    # -rss_limit_mb: an allocation the input controls shows as an
    # out-of-memory crash rather than a slow machine.
    cargo +nightly fuzz run --release "$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
done
