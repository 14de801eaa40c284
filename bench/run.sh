#!/usr/bin/env bash
# make bench: runs every bench/<subcommand>.sh against the built opsktl.
# Generated data goes to bench/data/ (git-ignored) and is reused between runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
opsktl=$(realpath "${1:-$here/../build/opsktl}")
for script in "$here"/*.sh; do
  [[ $(basename "$script") == run.sh || $(basename "$script") == lib.sh ]] && continue
  echo "== $(basename "$script" .sh)"
  "$script" "$opsktl"
  echo
done
