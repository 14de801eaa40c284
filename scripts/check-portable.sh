#!/usr/bin/env bash
# Checks that a binary's only dynamic dependencies are glibc's, from `readelf -d`.
# Usage: scripts/check-portable.sh BINARY      exit 0 portable, 1 not, 2 error
set -euo pipefail
bin=${1:?usage: check-portable.sh BINARY}
[[ -f $bin ]] || { echo "check-portable: $bin: no such file" >&2; exit 2; }
command -v readelf >/dev/null || { echo "check-portable: readelf not found (binutils)" >&2; exit 2; }

# The libraries glibc itself consists of; anything else must be linked in.
glibc='^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2)$'

dynamic=$(readelf -d "$bin" 2>&1)
if grep -q 'There is no dynamic section' <<<"$dynamic"; then
  echo "check-portable: $bin: fully static"
  exit 0
fi
needed=$(sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p' <<<"$dynamic")
foreign=$(grep -Ev "$glibc" <<<"$needed" || true)
size=$(stat -c %s "$bin")
echo "check-portable: $bin: $((size / 1024)) KiB; needs: $(tr '\n' ' ' <<<"$needed")"
if [[ -n $foreign ]]; then
  echo "check-portable: $bin needs libraries outside glibc: $(tr '\n' ' ' <<<"$foreign")" >&2
  exit 1
fi
