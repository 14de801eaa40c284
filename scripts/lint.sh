#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) over every translation unit in src/, in parallel.
# Prints each warning once (a header's warning is reported by every file that includes
# it) and exits 1 if there is any, 2 if clang-tidy itself fails.
#
# Usage: scripts/lint.sh [BUILD_DIR]
#   BUILD_DIR holds compile_commands.json; without it, build-lint/ is configured (no build
#   needed: clang-tidy only reads the compile commands). JOBS overrides $(nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build-lint}
if [[ ! -f "$build/compile_commands.json" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DOPSKTL_BUILD_TESTS=OFF >/dev/null
fi
tidy=${CLANG_TIDY:-clang-tidy}
command -v "$tidy" >/dev/null || { echo "lint: $tidy not found (scripts/install-deps.sh --lint)" >&2; exit 2; }

# The translation units of src/ that the build knows about, relative to the source tree.
mapfile -t units < <(python3 - "$build/compile_commands.json" "$PWD" <<'PY'
import json, os, sys
root = sys.argv[2]
seen = set()
for entry in json.load(open(sys.argv[1])):
    path = os.path.relpath(os.path.join(entry["directory"], entry["file"]), root)
    if path.startswith("src/") and path not in seen:
        seen.add(path)
        print(path)
PY
)
[[ ${#units[@]} -gt 0 ]] || { echo "lint: no src/ files in $build/compile_commands.json" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS
# One clang-tidy per file: its diagnostics go to its own file, so parallel output never
# interleaves. clang-tidy exits non-zero on warnings (WarningsAsErrors) as well as on
# failures; the two are told apart below from what it printed.
printf '%s\n' "${units[@]}" |
  xargs -P "${JOBS:-$(nproc)}" -I{} sh -c \
    'f="$1"; "$2" -p "$3" --quiet "$f" >"$4/$(echo "$f" | tr / _).out" 2>&1 || echo "$f" >>"$4/failed"' \
    sh {} "$tidy" "$build" "$out"

# A diagnostic starts with "path:line:col: warning|error:" and runs to the next one; notes
# and source excerpts belong to it. Print each distinct diagnostic once.
python3 - "$out" <<'PY'
import glob, os, re, sys
head = re.compile(r"^(/[^:]+|[^:\s][^:]*):\d+:\d+: (warning|error): ")
seen, blocks = set(), []
for name in sorted(glob.glob(os.path.join(sys.argv[1], "*.out"))):
    block = None
    for line in open(name, errors="replace"):
        if re.match(r"^\d+ (warnings?|errors?)( and \d+ errors?)? generated\.$", line.strip()):
            continue
        if line.startswith(("Suppressed ", "Use -header-filter", "Error while processing")):
            continue
        if head.match(line):
            block = [line]
            blocks.append(block)
        elif block is not None:
            block.append(line)
for block in blocks:
    key = block[0]
    if key not in seen:
        seen.add(key)
        sys.stdout.write("".join(block))
open(os.path.join(sys.argv[1], "count"), "w").write(str(len(seen)))
PY
count=$(cat "$out/count")
elapsed=$((SECONDS - start))
if [[ "$count" -gt 0 ]]; then
  echo "lint: $count warning(s) in ${#units[@]} files (${elapsed}s)" >&2
  exit 1
fi
if [[ -f "$out/failed" ]]; then
  echo "lint: clang-tidy failed on: $(tr '\n' ' ' <"$out/failed")" >&2
  exit 2
fi
echo "lint: ${#units[@]} files clean (${elapsed}s)" >&2
