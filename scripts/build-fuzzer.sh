#!/usr/bin/env bash
# Builds libFuzzer targets (scripts/build-fuzzer.sh TARGET...) in build-fuzz/ with clang, ASan and
# UBSan, installing clang and libFuzzer with the sanitizer runtimes (clang 14 on Debian 12) first
# when missing; used by the fuzz scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-fuzz
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

# Debug keeps nlohmann's assertions on; the fuzz targets compile themselves at -O1.
mkdir -p "$build"
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug \
  -DRETAIN_BUILD_FUZZ=ON -DRETAIN_BUILD_TESTS=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --target "$@" -j "$(nproc)"
