#!/usr/bin/env bash
# flapping against an equivalent mawk program (the same sliding window, every mode) and
# wc -l (the floor: reading the file once). SPEC §8 targets: >= 10x faster than mawk,
# within 2x of wc -l, peak memory flat as the input grows (1M, 4M and 10M events).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
opsktl=$1
log=$data/events_2M.log
[[ -s $log ]] || python3 "$shared/bench/gen_events.py" --lines 2000000 --seed 1 -o "$log" 2>/dev/null
cat "$log" >/dev/null  # warm the page cache

# Per service, a queue of restart times in the window: times[s, head..tail).
awk_every='NF >= 3 && $1 ~ /^[0-9]+$/ && tolower($3) == "restarted" {
  s = $2; t = $1 + 0; n = tail[s] + 0; times[s, n] = t; tail[s] = n + 1
  h = head[s] + 0; while (times[s, h] < t - 600) { delete times[s, h]; h++ } head[s] = h
  if (n + 1 - h > 3) print t, s, n + 1 - h }'

hyperfine --style basic --warmup 3 --runs 10 --export-json "$data/flapping.json" \
  "$opsktl flapping -q --alerts every $log" \
  "$opsktl flapping -q --alerts every --threads 1 $log" \
  "$opsktl flapping -q $log" \
  "mawk '$awk_every' $log" \
  "wc -l $log" >/dev/null
ratios "$data/flapping.json"
# Against wc -l in alternating rounds (see errors_by_endpoint.sh).
python3 "$here/interleave.py" --rounds 20 "wc -l $log" "$opsktl flapping -q --alerts every $log" \
  "$opsktl flapping -q $log"
# Same answer? mawk skips the generator's ISO-timestamp lines, which opsktl reads, so
# compare on the lines both read.
grep -E '^[0-9]+ [^ ]+ [^ ]+' "$log" >"$data/events_2M_epoch.log"
a=$("$opsktl" flapping -q --alerts every "$data/events_2M_epoch.log" | tr '\t' ' ' | md5sum)
b=$(mawk "$awk_every" "$data/events_2M_epoch.log" | md5sum)
echo "every rows identical to mawk's on integer-timestamp lines: $([[ $a == "$b" ]] && echo yes || echo NO)"

for lines in 1000000 4000000 10000000; do
  f=$data/events_$((lines / 1000000))M.log
  [[ -s $f ]] || python3 "$shared/bench/gen_events.py" --lines "$lines" --seed 2 -o "$f" 2>/dev/null
  echo "peak RSS, $((lines / 1000000))M events: $(peak_rss_kb "$opsktl" flapping -q "$f") KiB"
done
