#!/usr/bin/env bash
# Refreshes the Trace tab that `ruchy-trace serve` carries in its binary
# (crates/host/page/, embedded by crates/host/build.rs) from www/: runs
# www/build.sh, then copies its output (www/dist). An example identical to a committed
# fixture is kept as a relative link to it, so the repository holds each
# fixture once.
#
#   scripts/embed-page.sh           rebuild crates/host/page
#   scripts/embed-page.sh --check   rebuild into a temporary folder and fail
#                                   when crates/host/page differs from it
#
# Needs what www/build.sh needs: the wasm32-unknown-unknown target and
# wasm-bindgen-cli of the version in Cargo.lock (ci/browser-tests.sh
# installs both).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
page="$root/crates/host/page"
check=no
case "${1:-}" in
  "") ;;
  --check) check=yes ;;
  *) echo "usage: scripts/embed-page.sh [--check]" >&2; exit 2 ;;
esac

"$root/www/build.sh" >&2

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
# What the page serves: what www/build.sh put in www/dist.
(cd "$root/www/dist" && find . -type f -print0) |
  while IFS= read -r -d '' f; do
    mkdir -p "$stage/$(dirname "$f")"
    cp "$root/www/dist/$f" "$stage/$f"
  done
# Examples that are fixtures become links into tests/fixtures.
(cd "$stage" && find . -type f \( -name '*.wasm' -o -name '*.ruchy' -o -name '*.rs' \) -print0) |
  while IFS= read -r -d '' f; do
    f="${f#./}"
    for fixture in "$root/tests/fixtures/$(basename "$f")" "$root/tests/fixtures/bench/$(basename "$f")"; do
      if [ -f "$fixture" ] && cmp -s "$fixture" "$stage/$f"; then
        rel="$(realpath -m --relative-to="$page/$(dirname "$f")" "$fixture")"
        ln -sfn "$rel" "$stage/$f"
        break
      fi
    done
  done

if [ "$check" = yes ]; then
  # Same files, same contents, same links (compared as links: their
  # targets are relative to crates/host/page, not to the staging folder).
  if ! diff -r --no-dereference "$stage" "$page" >&2; then
    echo "crates/host/page is stale: the page built from www/ differs; run scripts/embed-page.sh and commit crates/host/page" >&2
    exit 1
  fi
  echo "crates/host/page matches the page built from www/"
else
  rm -rf "$page"
  mkdir -p "$page"
  chmod 755 "$stage"
  cp -a "$stage/." "$page/"
  echo "refreshed crates/host/page ($(find "$page" \( -type f -o -type l \) | wc -l) files)"
fi
