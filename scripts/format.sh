#!/usr/bin/env bash
# Formats the C sources with the checked-in .clang-format (`make format`), or with --check
# lists the files that are not formatted and exits 1 (`make test` runs the check).
# Usage: format.sh [--check] [project-root]
set -euo pipefail
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
root="${1:-$(dirname "$0")/..}"
cd "$root"
CLANG_FORMAT="${CLANG_FORMAT:-$(command -v clang-format || command -v clang-format-14 || true)}"
[ -n "$CLANG_FORMAT" ] || { echo "format: clang-format not found (apt install clang-format)"; exit 2; }
mapfile -t files < <(find src include broker workers cli tests bench plugins \
  -type f \( -name '*.c' -o -name '*.h' \) | sort)
if [ "$check" -eq 0 ]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  echo "format: ${#files[@]} files formatted"
  exit 0
fi
# One clang-format over every file (a process per file costs ~0.1 s each in start-up);
# each violation is reported as "FILE:LINE:COL: error: ...", so the files are read from
# that. A failure that names no file (clang-format itself broken) is a failure too.
out=$("$CLANG_FORMAT" --dry-run -Werror "${files[@]}" 2>&1) && status=0 || status=$?
mapfile -t bad < <(printf '%s\n' "$out" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' | sort -u)
if [ "$status" -ne 0 ] && [ ${#bad[@]} -eq 0 ]; then
  echo "format: clang-format failed without naming a file:"
  printf '%s\n' "$out" | head -20
  exit 1
fi
if [ ${#bad[@]} -gt 0 ]; then
  echo "format: ${#bad[@]} of ${#files[@]} files are not formatted (run make format):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "format: ${#files[@]} files formatted as .clang-format says"
