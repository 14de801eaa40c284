#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, seeded from
# testdata/fuzz/<target>/ (read only; new inputs go to BUILD_DIR/fuzz-corpus/<target>).
# Fails when any target reports a crash, a leak, undefined behaviour or a timeout.
# Usage: scripts/run-fuzz.sh BUILD_DIR SECONDS
set -uo pipefail
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
failed=()
for target in fuzz_timestamp fuzz_state_replay fuzz_fields fuzz_combined fuzz_syslog fuzz_logfmt fuzz_json fuzz_regex fuzz_w3c; do
  corpus=$build/fuzz-corpus/$target
  mkdir -p "$corpus"
  log=$build/fuzz-corpus/$target.log
  echo "fuzz: $target for ${seconds}s" >&2
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -artifact_prefix="$build/fuzz-corpus/$target-" \
      "$corpus" "$root/testdata/fuzz/$target" >"$log" 2>&1; then
    echo "fuzz: $target FAILED (log: $log)" >&2
    tail -n 40 "$log" >&2
    failed+=("$target")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a finding" >&2
