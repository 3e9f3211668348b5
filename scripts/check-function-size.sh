#!/usr/bin/env bash
# Fails when a function outside tests/ and bench/ is longer than the limit
# (default 80 lines), as pmccabe counts them. pmccabe does not parse C++17's
# nested namespace definitions ("namespace a::b {"), so each file is measured
# on a copy where those are spelt out as nested blocks (line numbers kept).
#
#   scripts/check-function-size.sh [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-80}
command -v pmccabe >/dev/null || { echo "check-function-size: pmccabe missing (apt-get install pmccabe)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
long=0
while IFS= read -r f; do
  mkdir -p "$tmp/$(dirname "$f")"
  # "namespace a::b::c {" -> "namespace a { namespace b { namespace c {", and its
  # closing "}  // namespace a::b::c" -> "} } }".
  awk '
    /^namespace [A-Za-z_0-9]+(::[A-Za-z_0-9]+)+ \{/ {
      n = split($2, p, "::"); s = ""
      for (i = 1; i <= n; i++) s = s "namespace " p[i] " { "
      print s; next
    }
    /^\}  \/\/ namespace [A-Za-z_0-9]+(::[A-Za-z_0-9]+)+$/ {
      n = split($4, p, "::"); s = ""
      for (i = 1; i <= n; i++) s = s "} "
      print s; next
    }
    { print }' "$f" > "$tmp/$f"
  while read -r _ _ _ _ lines where; do
    if (( lines > limit )); then
      echo "check-function-size: ${where/$tmp\//} is $lines lines (limit $limit)"
      long=1
    fi
  done < <(pmccabe -v "$tmp/$f" 2>/dev/null | awk 'NF >= 6 && $1 ~ /^[0-9]+$/ {print $1, $2, $3, $4, $5, $6, $7}')
done < <(git ls-files '*.cpp' | grep -v -e '^tests/' -e '^bench/')
if (( long )); then exit 1; fi
echo "check-function-size: no function over $limit lines"
