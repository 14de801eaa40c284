#!/usr/bin/env bash
# Install the Debian packages opsktl needs to build and test, and only those missing.
# Idempotent: a second run installs nothing.
# Usage: scripts/install-deps.sh [--bench] [--fuzz] [--lint]
set -euo pipefail

packages=(
  cmake ninja-build pkg-config g++ make python3
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libxxhash-dev
  libgtest-dev libgmock-dev zlib1g-dev libre2-dev
  groff-base
  xfsprogs
)
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang libclang-rt-dev) ;;
    --bench) packages+=(libbenchmark-dev mawk hyperfine time gdu ncdu jdupes rdfind rmlint fdupes) ;;
    # make lint, make format-check, make format (Debian 12: clang-tidy and clang-format 14)
    --lint) packages+=(clang-tidy clang-format) ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --bench, --fuzz or --lint)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "opsktl: missing packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are absent or older than a day.
lists=/var/lib/apt/lists
if ! compgen -G "$lists/*_Packages*" >/dev/null ||
   [[ -n $(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin +1440 -print -quit) ]]; then
  apt-get update -qq
fi
echo "opsktl: installing ${missing[*]}" >&2
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  # A stale list can name versions the mirror no longer has: refresh once and retry.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
