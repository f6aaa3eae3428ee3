#!/usr/bin/env bash
# Rebuilds third_party/sqlx-core from the published crate plus third_party/sqlx-core.patch,
# or checks that the vendored tree is exactly that (decision 0006: unchanged except TCP_NODELAY).
#
#   scripts/vendor-sqlx-core.sh check     fail unless third_party/sqlx-core = crate 0.9.0 + patch
#   scripts/vendor-sqlx-core.sh rebuild   replace third_party/sqlx-core with crate 0.9.0 + patch
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
VERSION=0.9.0
SHA256=05b44e85bf579a8eeb4ceaa77a3a523baf2bf0e9bac7e40f405d537b5d2d5ccb
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

crate="$work/sqlx-core-$VERSION.crate"
cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/sqlx-core-$VERSION.crate 2>/dev/null | head -1 || true)
if [ -n "$cached" ]; then
  cp "$cached" "$crate"
else
  curl -sSfL -o "$crate" "https://static.crates.io/crates/sqlx-core/sqlx-core-$VERSION.crate"
fi
echo "$SHA256  $crate" | sha256sum -c --quiet - || { echo "sqlx-core-$VERSION.crate: checksum mismatch"; exit 1; }
tar xzf "$crate" -C "$work"
tree="$work/sqlx-core-$VERSION"
# Files of the package that a path dependency does not use.
rm -f "$tree/.cargo_vcs_info.json" "$tree/Cargo.lock" "$tree/Cargo.toml.orig"
patch -s -p1 -d "$tree" < third_party/sqlx-core.patch

case "$mode" in
  check)
    if diff -r "$tree" third_party/sqlx-core >"$work/diff"; then
      echo "third_party/sqlx-core = sqlx-core $VERSION (sha256 $SHA256) + third_party/sqlx-core.patch"
    else
      cat "$work/diff"
      echo "third_party/sqlx-core differs from sqlx-core $VERSION + third_party/sqlx-core.patch"
      exit 1
    fi
    ;;
  rebuild)
    rm -rf third_party/sqlx-core
    cp -r "$tree" third_party/sqlx-core
    echo "third_party/sqlx-core rebuilt from sqlx-core $VERSION + third_party/sqlx-core.patch"
    ;;
  *) echo "usage: $0 check|rebuild"; exit 64 ;;
esac
