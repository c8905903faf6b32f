#!/usr/bin/env bash
# The tree is formatted with .clang-format, and the check can fail: a copy of one source
# with its indentation broken is refused.
set -euo pipefail
root="$1"
"$root/scripts/format.sh" --check "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/core" && cp "$root/.clang-format" "$tmp/"
for d in include broker workers cli tests bench plugins; do mkdir -p "$tmp/$d"; done
sed 's/^    return/  return/' "$root/src/core/hash.c" > "$tmp/src/core/hash.c"
if out=$("$root/scripts/format.sh" --check "$tmp"); then
  echo "format check accepted a badly indented file:"; echo "$out"; exit 1
fi
grep -q 'src/core/hash.c' <<<"$out" || { echo "$out"; exit 1; }
echo "format check refuses an unformatted file: ok"
