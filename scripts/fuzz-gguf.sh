#!/usr/bin/env bash
# Fuzzes the GGUF reader and the dequantizers (fuzz/gguf-fuzz.cpp) with libFuzzer, ASan and UBSan
# for SECONDS_TO_RUN seconds (600 by default) on one core. Builds in build-fuzz/ with clang, keeps
# the corpus in build-fuzz/corpus-gguf/, writes findings to build-fuzz/findings-gguf/ and exits
# non-zero when there is one. Seeds: the GGUF fixtures (RETAIN_GGUF_FIXTURES, default
# tests/fixtures/gguf), cut to their first 64 KB.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_TO_RUN:-600}
fixtures=${RETAIN_GGUF_FIXTURES:-tests/fixtures/gguf}
build=build-fuzz

bash scripts/build-fuzzer.sh fuzz_gguf

corpus=$build/corpus-gguf
findings=$build/findings-gguf
mkdir -p "$corpus" "$findings"
while IFS= read -r -d '' file; do
  head -c 65536 "$file" >"$corpus/seed-$(basename "$file")"
done < <(find "$fixtures" -name '*.gguf' -print0)

echo "[fuzz] running for ${seconds}s on $(ls "$corpus" | wc -l) corpus files"
log=$build/fuzz-gguf.log
set +e
"$build/fuzz_gguf" "$corpus" -max_len=65536 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1
status=$?
set -e
echo "[fuzz] exit status: $status"
echo "[fuzz] last status line: $(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
grep -E '^Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
echo "[fuzz] corpus: $(ls "$corpus" | wc -l) files; findings: $(ls "$findings" | wc -l) in $findings"
if [ "$status" -ne 0 ] || [ -n "$(ls "$findings")" ]; then
  grep -E 'ERROR|runtime error|SUMMARY|terminate' "$log" | head -20
  exit 1
fi
