#!/usr/bin/env bash
# `make check`: the guardrails CI runs before the tests.
#   1. format:     every C++ file as .clang-format says (clang-format 14)
#   2. layering:   includes follow scripts/check-layers.sh's table
#   3. sanitizers: the torch-free library and its tests built with AddressSanitizer and
#                  UndefinedBehaviorSanitizer (-Werror) and run; a finding aborts the test.
# The libtorch tests are not run under the sanitizers here (a second full torch build does not fit
# CI's time); `cmake -DRETAIN_SANITIZE=ON` builds them too.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

echo "[check] format"
mapfile -t sources < <(git ls-files '*.cpp' '*.h')
if ! clang-format --dry-run --Werror "${sources[@]}" 2>/tmp/retain-format.$$; then
  grep -m 20 'error:' /tmp/retain-format.$$ || true
  rm -f /tmp/retain-format.$$
  echo "[check] format: files differ from .clang-format; run: clang-format -i \$(git ls-files '*.cpp' '*.h')" >&2
  exit 1
fi
rm -f /tmp/retain-format.$$

echo "[check] layering"
bash scripts/check-layers.sh

echo "[check] sanitizers (AddressSanitizer + UndefinedBehaviorSanitizer) on the torch-free tests"
build=${SANITIZE_BUILD:-build-sanitize}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRETAIN_SANITIZE=ON -DRETAIN_WERROR=ON >/dev/null
cmake --build "$build" -j "$JOBS" --target retain_base_tests
bash scripts/fetch-tokenizers.sh build/tokenizers
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  RETAIN_TOKENIZER_DIR="$PWD/build/tokenizers" "./$build/retain_base_tests" --gtest_brief=1
echo "[check] all passed"
