#!/usr/bin/env bash
# Parsing speed of each log format: errors-by-endpoint --threads 1 on the same 1M
# requests written as fields, combined, logfmt and json (issue targets: combined
# >= 400 MB/s, json >= 300 MB/s per core). Prints MB/s from the best wall time of 5 runs
# and from CPU time (user+sys), which holds steady when other work shares the machine.
# Usage: bench/log_formats.sh OPSKTL [OTHER_OPSKTL...]; with several binaries (say a build
# of an older commit) their runs alternate, so they share the machine's load.
# FORMATS="json logfmt" picks formats.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
binaries=("$@")
conv="$here/../tests/cli/logconv.py"
fields=$data/formats_fields.log
[[ -s $fields ]] || python3 "$shared/bench/gen_access_log.py" --lines 1000000 --seed 1 -o "$fields"
[[ -s $data/formats_combined.log ]] ||
  python3 "$shared/bench/gen_access_log.py" --lines 1000000 --seed 1 --format combined -o "$data/formats_combined.log"
for to in logfmt json; do
  [[ -s $data/formats_$to.log ]] || python3 "$conv" --to "$to" -o "$data/formats_$to.log" "$fields"
done

printf '%-9s %9s %11s %10s  %-32s  %s\n' format MB wall_MB/s cpu_MB/s "top rows (md5, equal = same answer)" binary
for format in ${FORMATS:-fields combined logfmt json}; do
  log=$data/formats_$format.log
  cat "$log" >/dev/null  # warm the page cache
  python3 - "$format" "$log" "${binaries[@]}" <<'PY'
import hashlib, os, resource, subprocess, sys, time
fmt, log, *binaries = sys.argv[1:]
size = os.path.getsize(log) / 1e6
best = {b: [1e9, 1e9, ""] for b in binaries}
for _ in range(5):
    for b in binaries:
        cmd = [b, "errors-by-endpoint", "-q", "--threads", "1", "--log-format", fmt, "-k", "0", log]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run(cmd, stdout=subprocess.PIPE, check=False).stdout
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        r = best[b]
        r[0], r[1], r[2] = min(r[0], wall), min(r[1], cpu), hashlib.md5(out).hexdigest()
for b in binaries:
    wall, cpu, md5 = best[b]
    print(f"{fmt:<9} {size:9.1f} {size / wall:11.0f} {size / cpu:10.0f}  {md5}  {b}")
PY
done
