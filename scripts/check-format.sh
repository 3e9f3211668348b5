#!/usr/bin/env bash
# Fails when a tracked C++ file (*.cpp, *.h) is not formatted as .clang-format
# says (Google base, 100 columns): lists each such file and exits 1. Formats
# nothing; to fix a file, run `clang-format -i FILE` and review the diff.
#
#   scripts/check-format.sh        from anywhere inside the checkout
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
command -v clang-format >/dev/null || {
  echo "check-format: clang-format is missing (scripts/install-deps.sh installs it)" >&2
  exit 2
}

bad=()
while IFS= read -r -d '' f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files -z -- '*.cpp' '*.h')

if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} file(s) differ from .clang-format (clang-format -i FILE fixes one):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "check-format: every tracked *.cpp and *.h is formatted"
