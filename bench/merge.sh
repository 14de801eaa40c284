#!/usr/bin/env bash
# merge against `sort -m` (what users run today: it cannot parse timestamps but can
# merge on a leading epoch number) and cat (the floor: reading every input once).
# SPEC §8 target: >= 3x faster than `LC_ALL=C sort -m -s -n -k1,1`. Also checks that
# both merges give the same bytes on this data (sorted epoch-seconds inputs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
opsktl=$1
dir=$data/sorted_16x250k
if [[ ! -s $dir/log15.txt ]]; then
  rm -rf "$dir"
  python3 "$shared/bench/gen_sorted_logs.py" --files 16 --lines-per-file 250000 --seed 1 --out "$dir" >/dev/null
fi
files=$(echo "$dir"/log*.txt)
cat $files >/dev/null  # warm the page cache

if ! cmp -s <("$opsktl" merge $files) <(LC_ALL=C sort -m -s -n -k1,1 $files); then
  echo "merge: output differs from sort -m" >&2
  exit 1
fi
hyperfine --style basic --warmup 2 --runs 10 --export-json "$data/merge.json" \
  "$opsktl merge $files" \
  "env LC_ALL=C sort -m -s -n -k1,1 $files" \
  "cat $files" >/dev/null
ratios "$data/merge.json"
echo "peak RSS: $(peak_rss_kb "$opsktl" merge $files) KiB"
