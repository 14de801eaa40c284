#!/usr/bin/env bash
# space-hogs against du, gdu and ncdu on the 200k-file tree and on /usr (SPEC §8: at least
# as fast as `du -ab` single-threaded, faster than gdu), warm cache, ratios from one
# hyperfine run per tree. Also checks that the totals agree with du's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
opsktl=$1
tree=$data/tree
[[ -d $tree ]] || python3 "$shared/bench/gen_tree.py" --out "$tree" --files 200000 --seed 1

for root in "$tree" /usr; do
  echo "-- $root: $(find "$root" -xdev | wc -l) entries"
  du -s "$root" >/dev/null  # warm the dentry and inode caches
  name=space_hogs_$(basename "$root")
  hyperfine --style basic --warmup 1 --runs 5 --export-json "$data/$name.json" \
    "$opsktl space-hogs --format tsv --threads 1 $root" \
    "$opsktl space-hogs --format tsv --threads 2 $root" \
    "du -ab $root | sort -rn | head" \
    "du -sb $root" \
    "gdu --non-interactive --no-progress --max-cores 2 $root" \
    "gdu --non-interactive --no-progress --max-cores 1 $root" \
    "ncdu -0 -o /dev/null $root" >/dev/null
  ratios "$data/$name.json"
  # CPU seconds (user+sys) hold steady when other work shares the machine; wall times do not.
  for cmd in "$opsktl space-hogs --format tsv --threads 1" "du -sb" "gdu -n -p -m 1" "ncdu -0 -o /dev/null"; do
    echo "cpu: $(/usr/bin/time -f "%U %S" $cmd "$root" 2>&1 >/dev/null | tail -n 1 | awk '{print $1 + $2}') s  $cmd"
  done
  echo "peak RSS KiB: opsktl $(peak_rss_kb "$opsktl" space-hogs --format tsv --threads 2 "$root"), du -ab $(peak_rss_kb du -ab "$root")"
  ours=$("$opsktl" space-hogs -q --format tsv --dirs-only -k 1 --apparent-size "$root" | cut -f2)
  theirs=$(du -sb "$root" | cut -f1)
  echo "total --apparent-size: opsktl $ours, du -sb $theirs"
done
