#!/usr/bin/env bash
# Install ember into a temporary prefix, then build and run a program against it the way
# a user would: with nothing but `pkg-config --cflags --libs ember`.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson setup "$tmp/build" --prefix "$tmp/prefix" -Dtests=false >/dev/null
ninja -C "$tmp/build" >/dev/null
meson install -C "$tmp/build" --quiet >/dev/null
export PKG_CONFIG_PATH="$(dirname "$(find "$tmp/prefix" -name ember.pc)")"
cc -std=c11 -Wall -Wextra -Werror tests/install/example.c -o "$tmp/example" \
   $(pkg-config --cflags --libs ember) -lm
LD_LIBRARY_PATH="$(dirname "$(find "$tmp/prefix" -name 'libember.so' | head -1)")" "$tmp/example"
echo "install check: passed (pkg-config ember $(pkg-config --modversion ember))"
