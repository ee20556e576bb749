#!/usr/bin/env bash
# Fuzzes the parsers a user's file reaches with libFuzzer, ASan and UBSan, each target on one core
# for SECONDS_TO_RUN seconds (600 by default), FUZZ_JOBS targets at a time (1 by default):
#   scripts/fuzz.sh [NAME...]     NAME: a fuzz/NAME-fuzz.cpp target (default: every one)
# Builds them in build-fuzz/ with clang (scripts/build-fuzzer.sh), seeds each corpus
# (build-fuzz/corpus-NAME/, kept between runs) from the repository's files of that kind and
# fuzz/seeds/NAME/, writes findings to build-fuzz/findings-NAME/, each log to build-fuzz/fuzz-NAME.log
# and a table of executions, coverage and findings to build-fuzz/fuzz-summary.md. Exits non-zero
# when a target has a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C  # ${#json} must count bytes
seconds=${SECONDS_TO_RUN:-600}
build=build-fuzz
all=(safetensors-header gguf stream-toml hf-config tokenizer-json adapter-config jsonl idx png checkpoint-state)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
for name in "${names[@]}"; do
  [ -f "fuzz/$name-fuzz.cpp" ] || { echo "[fuzz] no target '$name' (targets: ${all[*]})" >&2; exit 2; }
done

le64() {  # a number as 8 little-endian bytes
  local i
  for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $((($1 >> (8 * i)) & 255)))"; done
}

# seed NAME CORPUS: fills CORPUS with NAME's seeds; sets `options` (the caller's local: libFuzzer flags).
seed() {
  local name=$1 corpus=$2 file
  options=(-max_len=65536)
  [ -d "fuzz/seeds/$name" ] && cp fuzz/seeds/"$name"/* "$corpus/"
  case $name in
    safetensors-header)  # the fixture headers without their data, a few valid files and hostile ones
      while IFS= read -r -d '' file; do
        local n
        n=$(od -An -tu8 -N8 "$file" | tr -d ' ')
        head -c $((8 + n)) "$file" >"$corpus/seed-fixture-$(echo "$file" | tr '/' '_')"
      done < <(find tests/fixtures/hf -name '*.safetensors' -print0)
      local header
      while IFS='|' read -r file header n; do
        { le64 "${#header}"; printf '%s' "$header"; head -c "$n" /dev/zero; } >"$corpus/seed-$file"
      done <<'SEEDS'
valid|{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]},"c":{"dtype":"BOOL","shape":[],"data_offsets":[12,13]}}|13
every-dtype|{"f64":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"i64":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},"f32":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},"i32":{"dtype":"I32","shape":[1],"data_offsets":[20,24]},"f16":{"dtype":"F16","shape":[1],"data_offsets":[24,26]},"i16":{"dtype":"I16","shape":[1],"data_offsets":[26,28]},"i8":{"dtype":"I8","shape":[1],"data_offsets":[28,29]},"u8":{"dtype":"U8","shape":[1],"data_offsets":[29,30]},"e":{"dtype":"U8","shape":[0,3],"data_offsets":[30,30]}}|30
empty|{}|0
overlap|{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}|12
hole|{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}|12
overflow|{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}|0
duplicate|{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","dtype":"I8"}}|4
fp8|{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}|1
not-object|[{"dtype":"F32"},-1,1.5,"\ud800",null]|0
SEEDS
      { le64 4096; printf '{}'; } >"$corpus/seed-length-past-end"
      printf '\xff\xff\xff\xff\xff\xff\xff\x7f{}' >"$corpus/seed-huge-length"
      printf '%s\n' '"{"' '"}"' '"["' '"]"' '":"' '","' '"\"dtype\""' '"\"shape\""' '"\"data_offsets\""' \
        '"\"__metadata__\""' '"\"F64\""' '"\"F32\""' '"\"F16\""' '"\"BF16\""' '"\"I64\""' '"\"I32\""' \
        '"\"I16\""' '"\"I8\""' '"\"U8\""' '"\"BOOL\""' '"\"F8_E4M3\""' '"null"' '"18446744073709551615"' \
        '"9223372036854775808"' '"\\u0000"' '"\\ud800"' >"$build/safetensors.dict"
      options+=(-dict="$build/safetensors.dict") ;;
    gguf)  # the GGUF fixtures, cut to their first 64 KB
      while IFS= read -r -d '' file; do
        head -c 65536 "$file" >"$corpus/seed-$(basename "$file")"
      done < <(find tests/fixtures/gguf -name '*.gguf' -print0) ;;
    stream-toml)
      for file in streams/*.toml; do cp "$file" "$corpus/seed-$(basename "$file")"; done ;;
    hf-config)
      while IFS= read -r -d '' file; do
        cp "$file" "$corpus/seed-$(echo "$file" | tr '/' '_')"
      done < <(find tests/fixtures -name '*config.json' -print0) ;;
  esac
}

# fuzz NAME: runs one target for `seconds` and writes its row of the table to build-fuzz/fuzz-NAME.row.
fuzz() {
  local name=$1 target=fuzz_${1//-/_} corpus=$build/corpus-$1 findings=$build/findings-$1 log=$build/fuzz-$1.log
  local code options
  rm -rf "$findings"  # this run's findings only
  mkdir -p "$corpus" "$findings"
  seed "$name" "$corpus"
  echo "[fuzz] $name: ${seconds}s on $(ls "$corpus" | wc -l) corpus files"
  set +e
  "$build/$target" "$corpus" "${options[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1
  code=$?
  set -e
  final_stat() {
    local value
    value=$(grep -oE "stat::$1: *[0-9]+" "$log" | tail -1 | grep -oE '[0-9]+$' || true)
    echo "${value:-?}"
  }
  local coverage found
  coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  found=$(ls "$findings" | wc -l)
  echo "[fuzz] $name: exit $code, $(final_stat number_of_executed_units) executions" \
    "($(final_stat average_exec_per_sec)/s), ${coverage:-cov: ?}, corpus $(ls "$corpus" | wc -l), findings $found"
  echo "| $name | $(final_stat number_of_executed_units) | $(final_stat average_exec_per_sec) | ${coverage:-?} |" \
    "$(ls "$corpus" | wc -l) | $found |" >"$build/fuzz-$name.row"
  if [ "$code" -ne 0 ] || [ "$found" -ne 0 ]; then
    grep -E 'ERROR|runtime error|SUMMARY|terminate|what\(\)' "$log" | head -20
    return 1
  fi
}

targets=()
for name in "${names[@]}"; do targets+=("fuzz_${name//-/_}"); done
bash scripts/build-fuzzer.sh "${targets[@]}"
# FUZZ_JOBS targets at a time (1 by default), each on one core.
status=0
running=0
for name in "${names[@]}"; do
  rm -f "$build/fuzz-$name.row"
  fuzz "$name" &
  running=$((running + 1))
  if [ "$running" -ge "${FUZZ_JOBS:-1}" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done

summary=$build/fuzz-summary.md
{
  echo "fuzz run of $(date -u +%Y-%m-%d), ${seconds}s per target, $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
    "$(clang --version | head -1)"
  echo
  echo "| target | executions | per second | coverage (edges, features) | corpus | findings |"
  echo "|---|---|---|---|---|---|"
  for name in "${names[@]}"; do cat "$build/fuzz-$name.row" 2>/dev/null || echo "| $name | did not run | | | | |"; done
} >"$summary"
cat "$summary"
exit $status
