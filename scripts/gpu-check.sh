#!/usr/bin/env bash
# Runs on a GPU machine with pip's torch 2.x (CUDA), transformers, peft, tokenizers and safetensors
# in python3. Builds retain against that torch, runs the whole test suite with the GPU visible
# (the GPU-vs-CPU parity tests run there), generates a second fixture set and tokenizer cases with
# the reference libraries (tools/make-*.py), runs the suite again on them, and checks that
# transformers / peft load the models and adapters retain saved. Logs and the generated fixtures go
# to $OUT (default /tmp/gpu-check).
#
#   DEPS_PREFIX=/path/usr  a prefix holding nlohmann-json, CLI11, GoogleTest, PCRE2 and utf8proc
#                          when the machine has no Debian packages (e.g. unpacked .debs)
#   TOKENIZERS=DIR         the tokenizer files (scripts/fetch-tokenizers.sh), default build/tokenizers
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
tokenizers=$(realpath "${TOKENIZERS:-build/tokenizers}")
prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
if [ -n "${DEPS_PREFIX:-}" ]; then
  prefix="$prefix;$DEPS_PREFIX"
  export LD_LIBRARY_PATH="$DEPS_PREFIX/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
fi
generator=$(command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")
status=0

{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  python3 -c 'import torch,transformers,peft;print("torch",torch.__version__,"transformers",transformers.__version__,"peft",peft.__version__)'
  cmake -S . -B build-cuda -G "$generator" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" &&
    time cmake --build build-cuda -j "$(nproc)"
} >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
grep -E "RETAIN_WITH_CUDA|real" "$out/build.log"

run_suite() {  # $1: log name; the environment chooses the fixtures
  (cd build-cuda && RETAIN_TOKENIZER_DIR="$tokenizers" ctest -j 2 -V) >"$out/$1" 2>&1 || status=1
  grep -E "tests passed|tests failed|\[  (PASSED|FAILED|SKIPPED) \]" "$out/$1" | head -40
}

echo "== bundled fixtures"
run_suite ctest-bundled.log

echo "== second fixture set from transformers / peft"
python3 tools/make-fixtures.py "$out/fixtures2" >"$out/make-fixtures.log" 2>&1 || { tail -30 "$out/make-fixtures.log"; exit 1; }
python3 tools/make-tokenizer-cases.py "$tokenizers" "$out/cases2.json" >>"$out/make-fixtures.log" 2>&1 ||
  { tail -30 "$out/make-fixtures.log"; exit 1; }
tail -2 "$out/make-fixtures.log"
rm -rf build-cuda/test-scratch
RETAIN_FIXTURES="$out/fixtures2" RETAIN_TOKENIZER_CASES="$out/cases2.json" run_suite ctest-fixtures2.log

echo "== transformers / peft load what retain saved"
python3 tools/check-saved.py build-cuda/test-scratch "$out/fixtures2" 2>&1 | grep -v Warning | tee "$out/check-saved.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

tar czf "$out/fixtures2.tar.gz" -C "$out" fixtures2 && rm -rf "$out/fixtures2"
exit $status
