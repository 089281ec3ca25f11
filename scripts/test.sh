#!/usr/bin/env bash
# Runs every test of ruchy-trace. Installs what it needs on an empty machine
# (rustup targets; for the browser tests, see ci/browser-tests.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

echo "== tracer-core builds without std, and the instrumenter builds for the browser"
cargo build -p ruchy-trace-core --target wasm32-unknown-unknown
cargo build -p ruchy-trace-instrument --target wasm32-unknown-unknown

echo "== the library crates package and build as they would be published"
# Cargo verifies each package by unpacking it under
# $CARGO_HOME/registry/src/<hash of the temporary registry's path>/ and
# building it as a registry crate. It keeps an unpacking made there before for
# the same name and version, and a registry crate's build is never rebuilt for
# changed sources: either would verify a tree packaged by an earlier run
# instead of this one. So both start empty.
package_target=target/package-check
rm -rf "$package_target" "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/ruchy-trace-*-[0-9]*/
CARGO_TARGET_DIR="$package_target" \
    cargo publish --dry-run --allow-dirty -p ruchy-trace-core -p ruchy-trace-instrument -p ruchy-trace-web
# The browser crate's doc example runs natively (alone: built together with
# the host, its dependencies' features would rebuild wasmtime).
cargo test -p ruchy-trace-web --doc

echo "== native tests (release: the same build the CLI and the benchmark use)"
cargo test --release

echo "== fuzz targets, each for 60 s"
bash ci/fuzz.sh

if [ -x ci/browser-tests.sh ]; then
    echo "== browser tests"
    ci/browser-tests.sh
    # After the browser tests, which install wasm-bindgen-cli and build www/.
    echo "== the page built into ruchy-trace serve is the page www/ builds"
    bash scripts/embed-page.sh --check
fi
