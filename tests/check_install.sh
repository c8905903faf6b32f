#!/usr/bin/env bash
# The installed library is usable from outside: `cmake --install` into a temporary prefix,
# then a consumer program (tests/consumer) is built once with pkg-config and once with the
# CMake package (find_package(actorcore), actorcore::actorcore), and both resolve 612
# strength under a 500 cap to 500.
# Usage: check_install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1"; build="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name actorcore.pc | head -1)")
export PKG_CONFIG_PATH="$libdir"
cc -o "$tmp/by-pkgconfig" "$src/tests/consumer/consumer.c" $(pkg-config --cflags --libs actorcore) \
  -Wl,-rpath,"$(pkg-config --variable=libdir actorcore)"
cmake -S "$src/tests/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
for bin in "$tmp/by-pkgconfig" "$tmp/cm/consumer"; do
  out=$(LD_LIBRARY_PATH="$libdir/.." "$bin" "$src/config/combiner.yaml" "$src/config/cap_layers.yaml")
  [ "$out" = "strength 500" ] || { echo "$bin printed '$out', expected 'strength 500'"; exit 1; }
done
echo "installed package: pkg-config and CMake consumers build and resolve: ok"
