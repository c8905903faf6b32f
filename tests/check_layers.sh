#!/usr/bin/env bash
# The include-layer check, and proof that it can fail: the real tree passes, and a copy with
# one upward include (core -> codec) and one public header reaching into src/ is refused.
set -euo pipefail
root="$1"
python3 "$root/scripts/check-layers.py" "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
cp -r "$root/include" "$tmp/"
for d in core codec subsystems service; do cp -r "$root/src/$d" "$tmp/src/"; done
for d in broker workers cli bench tests plugins; do mkdir -p "$tmp/$d"; done
sed -i '1a #include "codec/numfmt.h"' "$tmp/src/core/hash.c"
echo '#include "core/arena.h"' >> "$tmp/include/actorcore/error.h"
if out=$(python3 "$root/scripts/check-layers.py" "$tmp"); then
  echo "check-layers accepted an upward include:"; echo "$out"; exit 1
fi
grep -q 'src/core/hash.c:2: .*includes codec/numfmt.h (layer codec)' <<<"$out" || { echo "$out"; exit 1; }
grep -q 'include/actorcore/error.h:[0-9]*: public header includes private core/arena.h' <<<"$out" || { echo "$out"; exit 1; }
echo "check-layers refuses an upward include: ok"
