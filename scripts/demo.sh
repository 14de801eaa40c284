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
run errors-by-endpoint --format table --status 4xx,5xx --by service testdata/access.log
run errors-by-endpoint --format json -k 1 testdata/access.log
