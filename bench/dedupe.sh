#!/usr/bin/env bash
# dedupe (dry run) against jdupes, rdfind, rmlint and fdupes on the 200k-file tree
# (SPEC §8: faster than all four), warm cache, ratios from one hyperfine run. Also how
# many bytes were read against the tree's total: only files whose size collides, and of
# those mostly the first and last 4 KiB, should be read.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
opsktl=$1
tree=$data/tree
[[ -d $tree ]] || python3 "$shared/bench/gen_tree.py" --out "$tree" --files 200000 --seed 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
find "$tree" -type f -print0 | xargs -0 cat >/dev/null  # warm the page cache

# Every opsktl run starts without its state file, so it hashes like the others do.
hyperfine --style basic --warmup 0 --runs 2 --prepare "rm -f $work/state" \
  --export-json "$data/dedupe.json" \
  "$opsktl dedupe -q --format tsv --state $work/state $tree" \
  "$opsktl dedupe -q --format tsv --threads 1 --state $work/state $tree" \
  "jdupes -r -q $tree" \
  "rdfind -dryrun true -outputname $work/results.txt $tree" \
  "rmlint -T df -o fdupes:$work/rmlint.out $tree" \
  "fdupes -r -q $tree" >/dev/null
ratios "$data/dedupe.json"

rm -f "$work/state"
"$opsktl" dedupe -q --format json --state "$work/state" "$tree" >"$work/summary.json"
python3 - "$work/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(f"files {s['files_scanned']}, bytes {s['bytes_total']}, read {s['bytes_hashed']} "
      f"({100 * s['bytes_hashed'] / max(1, s['bytes_total']):.1f}%), groups {s['groups']}, "
      f"reclaimable {s['reclaimable_bytes']}")
PY
start=$(date +%s.%N)
"$opsktl" dedupe -q --format tsv --state "$work/state" "$tree" >/dev/null
echo "rerun with the state file (hashes reused): $(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')") s"
