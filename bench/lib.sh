# Shared by the bench scripts: paths, and hyperfine results as ratios from one run.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shared=${OPSKTL_SHARED:-$(cd "$here/../.." && pwd)/shared}
data=${OPSKTL_BENCH_DATA:-$here/data}
mkdir -p "$data"

# ratios JSON: prints each command's mean time and its ratio to the first command.
ratios() {
  python3 - "$1" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["mean"]
print(f"{'mean':>10}  {'stddev':>8}  {'x opsktl':>8}  command")
for r in results:
    print(f"{r['mean'] * 1000:8.1f}ms  {r['stddev'] * 1000:6.1f}ms  {r['mean'] / base:8.2f}  {r['command']}")
PY
}

# peak_rss_kb CMD...: the maximum resident set size of CMD, in KiB.
peak_rss_kb() {
  /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1
}
