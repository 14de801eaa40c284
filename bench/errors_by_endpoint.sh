#!/usr/bin/env bash
# errors-by-endpoint against the mawk one-liner users would run instead, and wc -l
# (the floor: reading the file once). SPEC §8 targets: >= 10x faster than mawk, within 2x
# of wc -l, peak memory flat as the input grows.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
opsktl=$1
log=$data/access_2M.log
[[ -s $log ]] || python3 "$shared/bench/gen_access_log.py" --lines 2000000 --seed 1 -o "$log"
cat "$log" >/dev/null  # warm the page cache

hyperfine --style basic --warmup 3 --runs 15 --export-json "$data/errors_by_endpoint.json" \
  "$opsktl errors-by-endpoint -q $log" \
  "$opsktl errors-by-endpoint -q --threads 1 $log" \
  "mawk '\$4 ~ /^5/ {c[\$2\" \"\$3]++} END {for (k in c) print c[k], k}' $log | sort -rn | head -5" \
  "wc -l $log" >/dev/null
ratios "$data/errors_by_endpoint.json"
# The same against wc -l in alternating rounds: the vCPUs' speed drifts from minute to
# minute here, and a ratio near the target needs both sides timed under the same drift.
# wc -l comes first, so "x first" is the target's ratio (within 2x).
python3 "$here/interleave.py" --rounds 20 "wc -l $log" "$opsktl errors-by-endpoint -q $log"

small=$data/access_500k.log
big=$data/access_4M.log
[[ -s $small ]] || python3 "$shared/bench/gen_access_log.py" --lines 500000 --seed 2 -o "$small"
[[ -s $big ]] || python3 "$shared/bench/gen_access_log.py" --lines 4000000 --seed 2 -o "$big"
echo "peak RSS, 500k lines: $(peak_rss_kb "$opsktl" errors-by-endpoint -q "$small") KiB;" \
     "4M lines: $(peak_rss_kb "$opsktl" errors-by-endpoint -q "$big") KiB"
