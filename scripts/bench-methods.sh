#!/usr/bin/env bash
# scripts/bench-methods.sh OUT_DIR - the methods benchmark of the README ("Results"): every method
# on the instruction and WordNet-supersense streams, from the same base model (runs/base-pretrain),
# with the same data and budget. Each method's learning rate is chosen on the held-out split
# (eval.split = "valid", seed 0) from its candidates; the chosen one then runs with every seed on
# the test split. Writes OUT_DIR/<stream>/{tune,runs}/..., OUT_DIR/<stream>.md (retain compare
# --by-seed) and OUT_DIR/lr.txt (every tuning score).
#
# Environment (defaults in brackets): RETAIN [build/retain], STREAMS [instructions wordnet-supersense],
# SEEDS [0 1 2], MAX_TRAIN per task [96], MAX_TEST per task [40], EPOCHS [1], GENERAL_TOKENS of
# held-out text for the perplexity drift [4096], JOBS parallel runs [2], THREADS per run [1],
# METHODS [all rows below].
set -euo pipefail
out=${1:?usage: scripts/bench-methods.sh OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
retain=${RETAIN:-$root/build/retain}
streams=${STREAMS:-"instructions wordnet-supersense"}
seeds=${SEEDS:-"0 1 2"}
max_train=${MAX_TRAIN:-96}
max_test=${MAX_TEST:-40}
epochs=${EPOCHS:-1}
general_tokens=${GENERAL_TOKENS:-4096}
jobs=${JOBS:-2}
export OMP_NUM_THREADS=${THREADS:-1}

# row name | --set options | learning-rate candidates (full fine-tuning vs. adapters)
full_lrs="1e-4 3e-4"
lora_lrs="1e-3 3e-3"
rows=(
  "seqft|method.name=seqft|$full_lrs"
  "replay|method.name=replay|$full_lrs"
  "ewc|method.name=ewc|$full_lrs"
  "osft|method.name=osft|$full_lrs"
  "migu|method.name=migu|$full_lrs"
  "seqlora|method.name=seqlora|$lora_lrs"
  "o-lora|method.name=o-lora|$lora_lrs"
  "inflora|method.name=inflora|$lora_lrs"
  "migu+o-lora|method.name=migu method.on=o-lora method.threshold=0.1|$lora_lrs"
)
if [[ -n "${METHODS:-}" ]]; then
  kept=()
  for row in "${rows[@]}"; do [[ " $METHODS " == *" ${row%%|*} "* ]] && kept+=("$row"); done
  rows=("${kept[@]}")
fi

mkdir -p "$out"
: > "$out/lr.txt"

# run NAME STREAM_FILE RUN_OUT SEED LR SETS... (waits while $jobs runs are going)
run() {
  local name=$1 stream=$2 run_out=$3 seed=$4 lr=$5
  shift 5
  local tasks sets=()
  tasks=$(grep -c '^\[\[task\]\]' "$stream")
  for i in $(seq 1 "$tasks"); do sets+=(--set "task.$i.max_train=$max_train" --set "task.$i.max_test=$max_test"); done
  for s in "$@"; do sets+=(--set "$s"); done
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n; done
  "$retain" run "$stream" --force --set "run.out=$run_out" --set "run.name=$name" --set "run.seed=$seed" \
    --set "train.lr=$lr" --set "train.epochs=$epochs" --set "eval.general_max_tokens=$general_tokens" "${sets[@]}" \
    > "$run_out/$name.log" 2>&1 &
}

aa() { grep -o '"average_accuracy": *[-0-9.e]*' "$1/matrix.json" | head -1 | sed 's/.*: *//'; }

for stream_name in $streams; do
  stream=$root/streams/$stream_name.toml
  tune=$out/$stream_name/tune
  runs=$out/$stream_name/runs
  mkdir -p "$tune" "$runs"
  for row in "${rows[@]}"; do
    IFS='|' read -r name sets lrs <<< "$row"
    for lr in $lrs; do
      # shellcheck disable=SC2086
      run "$name-lr$lr" "$stream" "$tune" 0 "$lr" $sets eval.split=valid eval.forward_transfer=false eval.general_text=
    done
  done
  wait
  for row in "${rows[@]}"; do
    IFS='|' read -r name sets lrs <<< "$row"
    best_lr="" best=-1
    for lr in $lrs; do
      score=$(aa "$tune/$name-lr$lr")
      echo "$stream_name $name lr=$lr valid AA=$score" >> "$out/lr.txt"
      if awk -v a="$score" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$score best_lr=$lr; fi
    done
    for seed in $seeds; do
      # shellcheck disable=SC2086
      run "$name-seed$seed" "$stream" "$runs" "$seed" "$best_lr" $sets
    done
  done
  wait
  dirs=()
  for row in "${rows[@]}"; do for seed in $seeds; do dirs+=("$runs/${row%%|*}-seed$seed"); done; done
  "$retain" compare --by-seed "${dirs[@]}" --out "$out/$stream_name.md"
done
