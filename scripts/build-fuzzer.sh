#!/usr/bin/env bash
# Installs clang and libFuzzer with the sanitizer runtimes (clang 14 on Debian 12), idempotently;
# used by the fuzz scripts.
set -euo pipefail
missing=()
command -v clang++ >/dev/null 2>&1 || missing+=(clang)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" ||
  missing+=(libclang-rt-14-dev)  # libFuzzer and the sanitizer runtimes for clang 14
if [ ${#missing[@]} -gt 0 ]; then
  echo "[fuzz] installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "[fuzz] installing these Debian packages needs root: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
