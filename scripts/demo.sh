#!/usr/bin/env bash
# Runs every subcommand on the examples in testdata/ (make demo).
set -u
opsktl=${1:-build/opsktl}
cd "$(dirname "$0")/.."
run() {
  printf '\n$ opsktl %s\n' "$*"
  "$opsktl" "$@"
  local rc=$?
  [[ $rc -le 1 ]] || { echo "demo: opsktl $* failed with exit $rc" >&2; exit 1; }
}
echo "opsktl demo: $("$opsktl" --version)"
run errors-by-endpoint --format table testdata/access.log
run errors-by-endpoint --format table --status 4xx,5xx --by service,status testdata/access.log
run errors-by-endpoint --format table --by method,path testdata/formats/nginx_combined.log
run flapping --format table -n 3 -w 5m testdata/events.log
run flapping --format table --alerts every -n 3 -w 5m testdata/events.log
run merge --label --year 2025 testdata/merge/web1.log testdata/merge/web2.log
run space-hogs --format table -k 3 testdata
if "$opsktl" dedupe --help >/dev/null 2>&1; then
  run dedupe --format table --state "$(mktemp -d)/demo.state" testdata/tree
fi
