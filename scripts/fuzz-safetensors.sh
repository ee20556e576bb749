#!/usr/bin/env bash
# Fuzzes the safetensors header parser (fuzz/safetensors-header-fuzz.cpp) with libFuzzer, ASan and
# UBSan for SECONDS_TO_RUN seconds (600 by default) on one core. Builds in build-fuzz/ with clang,
# keeps the corpus in build-fuzz/corpus/ between runs, writes findings to build-fuzz/findings/ and
# exits non-zero when there is one. Seeds: the headers of the fixture .safetensors files
# (RETAIN_FIXTURES, default tests/fixtures/hf), a few small valid files and a few hostile ones.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C  # ${#json} must count bytes

seconds=${SECONDS_TO_RUN:-600}
fixtures=${RETAIN_FIXTURES:-tests/fixtures/hf}
build=build-fuzz

bash scripts/build-fuzzer.sh fuzz_safetensors_header

corpus=$build/corpus
findings=$build/findings
mkdir -p "$corpus" "$findings"

le64() {  # a number as 8 little-endian bytes
  local i
  for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $((($1 >> (8 * i)) & 255)))"; done
}
seed() {  # seed NAME JSON DATA_BYTES [HEADER_LENGTH]
  { le64 "${4:-${#2}}"; printf '%s' "$2"; head -c "$3" /dev/zero; } >"$corpus/seed-$1"
}

# The fixture headers, without their data (the 8-byte length and the JSON it counts).
while IFS= read -r -d '' file; do
  n=$(od -An -tu8 -N8 "$file" | tr -d ' ')
  head -c $((8 + n)) "$file" >"$corpus/seed-fixture-$(echo "$file" | tr '/' '_')"
done < <(find "$fixtures" -name '*.safetensors' -print0)

seed valid '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]},"c":{"dtype":"BOOL","shape":[],"data_offsets":[12,13]}}' 13
seed every-dtype '{"f64":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"i64":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},"f32":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},"i32":{"dtype":"I32","shape":[1],"data_offsets":[20,24]},"f16":{"dtype":"F16","shape":[1],"data_offsets":[24,26]},"i16":{"dtype":"I16","shape":[1],"data_offsets":[26,28]},"i8":{"dtype":"I8","shape":[1],"data_offsets":[28,29]},"u8":{"dtype":"U8","shape":[1],"data_offsets":[29,30]},"e":{"dtype":"U8","shape":[0,3],"data_offsets":[30,30]}}' 30
seed empty '{}' 0
seed overlap '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
seed hole '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}' 12
seed overflow '{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}' 0
seed duplicate '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","dtype":"I8"}}' 4
seed fp8 '{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}' 1
seed length-past-end '{}' 0 4096
seed not-object '[{"dtype":"F32"},-1,1.5,"\ud800",null]' 0
printf '\xff\xff\xff\xff\xff\xff\xff\x7f{}' >"$corpus/seed-huge-length"

dict=$build/safetensors.dict
printf '%s\n' '"{"' '"}"' '"["' '"]"' '":"' '","' '"\"dtype\""' '"\"shape\""' '"\"data_offsets\""' \
  '"\"__metadata__\""' '"\"F64\""' '"\"F32\""' '"\"F16\""' '"\"BF16\""' '"\"I64\""' '"\"I32\""' \
  '"\"I16\""' '"\"I8\""' '"\"U8\""' '"\"BOOL\""' '"\"F8_E4M3\""' '"null"' '"18446744073709551615"' \
  '"9223372036854775808"' '"\\u0000"' '"\\ud800"' >"$dict"

echo "[fuzz] running for ${seconds}s on $(ls "$corpus" | wc -l) corpus files"
log=$build/fuzz.log
set +e
"$build/fuzz_safetensors_header" "$corpus" -dict="$dict" -max_total_time="$seconds" -timeout=10 \
  -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1
status=$?
set -e

last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
echo "[fuzz] exit status: $status"
echo "[fuzz] last status line: $last"
grep -E '^Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
echo "[fuzz] corpus: $(ls "$corpus" | wc -l) files; findings: $(ls "$findings" | wc -l) in $findings"
if [ "$status" -ne 0 ] || [ -n "$(ls "$findings")" ]; then
  grep -E 'ERROR|runtime error|SUMMARY|terminate' "$log" | head -20
  exit 1
fi
