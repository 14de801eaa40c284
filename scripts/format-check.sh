#!/usr/bin/env bash
# clang-format (style in .clang-format) over every C++ file under include/ src/ tests/ bench/.
# Usage: scripts/format-check.sh          exit 1 and name each file that is not formatted
#        scripts/format-check.sh --fix    reformat those files in place
set -euo pipefail
cd "$(dirname "$0")/.."
format=${CLANG_FORMAT:-clang-format}
command -v "$format" >/dev/null || { echo "format: $format not found (scripts/install-deps.sh --lint)" >&2; exit 2; }

# bench/data holds generated benchmark data (a file tree with any names), never source.
mapfile -t files < <(find include src tests bench -path bench/data -prune -o -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -print | sort)
if [[ "${1:-}" == "--fix" ]]; then
  printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 8 "$format" -i
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! "$format" --dry-run --Werror "$f" >/dev/null 2>&1; then
    n=$("$format" "$f" | diff "$f" - | grep -c '^<' || true)
    echo "$f: $n line(s) not formatted (make format)"
    bad=$((bad + 1))
  fi
done
if [[ $bad -gt 0 ]]; then
  echo "format: $bad of ${#files[@]} files not formatted; 'make format' fixes them" >&2
  exit 1
fi
echo "format: ${#files[@]} files formatted" >&2
