#!/usr/bin/env bash
# scripts/bench-methods.sh OUT_DIR - the methods benchmarks of the README ("Results"): every method
# on the instruction and WordNet-supersense streams, from the same base model (runs/base-pretrain),
# with the same data and budget; or on the same streams from SmolLM2-135M-Instruct in its chat format
# (STREAMS="smollm2-instructions smollm2-wordnet-supersense"); or (STREAMS=split-fashion-mnist-pretrained,
# after scripts/vision-pretrain.sh) on the vision stream from the MNIST-pretrained ViT. Learning rates
# are chosen on the held-out split (eval.split = "valid", seed 0) from each row's own candidates, or
# (TUNE=family, when time is short) taken over from the family's first row (one sweep for the full
# fine-tuning rows, one for the adapter rows); the chosen one then runs with every seed on the test
# split. Writes OUT_DIR/<stream>/{tune,runs}/..., OUT_DIR/<stream>.md (retain compare --by-seed) and
# OUT_DIR/<stream>/lr.txt (every tuning score). Streams run one after the other; to run them side by
# side, start one instance per stream (STREAMS=...) on the same OUT_DIR.
#
# Environment (defaults in brackets): RETAIN [build/retain], STREAMS [instructions wordnet-supersense],
# SEEDS [0 1 2], MAX_TRAIN per task [96], MAX_TEST per task [40; 0 = all], EPOCHS [1], GENERAL_TOKENS
# of held-out text for the perplexity drift [4096], JOBS parallel runs [2], THREADS per run [1],
# METHODS [all rows below], SETS [none]: more --set options for every run (on a GPU:
# "run.device=cuda model.dtype=float32"), TUNE [each]: each | family | none (no sweep: every row takes
# its first candidate; for streams without a valid split).
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

# row name | --set options | learning-rate candidates, or =ROW to use ROW's choice. TUNE=each (the
# default, the full protocol) sweeps every row's own candidates; TUNE=family once per family.
full_lrs=${FULL_LRS:-"3e-4 1e-3"}
lora_lrs=${LORA_LRS:-"1e-3 3e-3"}
tuning=${TUNE:-each}
each() { if [[ $tuning == each ]]; then echo "$1"; else echo "$2"; fi; }
rows=(
  "seqft|method.name=seqft|$full_lrs"
  "replay|method.name=replay|$(each "$full_lrs" =seqft)"
  "ewc|method.name=ewc|$(each "$full_lrs" =seqft)"
  "osft|method.name=osft|$(each "$full_lrs" =seqft)"
  "migu|method.name=migu|$(each "$full_lrs" =seqft)"
  "seqlora|method.name=seqlora|$lora_lrs"
  "o-lora|method.name=o-lora|$(each "$lora_lrs" =seqlora)"
  "inflora|method.name=inflora|$(each "$lora_lrs" =seqlora)"
  "migu+o-lora|method.name=migu method.on=o-lora method.threshold=0.1|$(each "$lora_lrs" =seqlora)"
  "lora-minus|method.name=lora-minus|$(each "$lora_lrs" =seqlora)"
  "treelora|method.name=treelora|$(each "$lora_lrs" =seqlora)"
  "selective-lora|method.name=selective-lora|$(each "$lora_lrs" =seqlora)"
  "joint|method.name=joint|$(each "$full_lrs" =seqft)"
)
if [[ -n "${METHODS:-}" ]]; then
  kept=()
  for row in "${rows[@]}"; do [[ " $METHODS " == *" ${row%%|*} "* ]] && kept+=("$row"); done
  rows=("${kept[@]}")
fi

mkdir -p "$out"

# run NAME STREAM_FILE RUN_OUT SEED LR SETS... (waits while $jobs runs are going)
run() {
  local name=$1 stream=$2 run_out=$3 seed=$4 lr=$5
  shift 5
  local tasks sets=()
  tasks=$(grep -c '^\[\[task\]\]' "$stream")
  for i in $(seq 1 "$tasks"); do sets+=(--set "task.$i.max_train=$max_train" --set "task.$i.max_test=$max_test"); done
  for s in "$@" ${SETS:-}; do sets+=(--set "$s"); done
  # A finished run (its log says "done") is kept, so running the script again picks up where it stopped.
  if [[ -f $run_out/$name/report.md ]] && grep -q '"event":"done"' "$run_out/$name/log.jsonl" 2>/dev/null; then return; fi
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done  # a failed run is reported by its log
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
  lr_log=$out/$stream_name/lr.txt
  : > "$lr_log"
  for row in "${rows[@]}"; do
    IFS='|' read -r name sets lrs <<< "$row"
    [[ $lrs == =* || $tuning == none ]] && continue
    for lr in $lrs; do
      # shellcheck disable=SC2086
      run "$name-lr$lr" "$stream" "$tune" 0 "$lr" $sets eval.split=valid eval.forward_transfer=false eval.general_text= \
        eval.probe=
    done
  done
  wait
  declare -A chosen=()
  for row in "${rows[@]}"; do
    IFS='|' read -r name sets lrs <<< "$row"
    if [[ $lrs == =* ]]; then
      best_lr=${chosen[${lrs#=}]}
      echo "$stream_name $name lr=$best_lr (taken from ${lrs#=})" >> "$lr_log"
    elif [[ $tuning == none ]]; then
      best_lr=${lrs%% *}
      echo "$stream_name $name lr=$best_lr (not tuned: TUNE=none)" >> "$lr_log"
    else
      best_lr="" best=-1
      for lr in $lrs; do
        score=$(aa "$tune/$name-lr$lr")
        echo "$stream_name $name lr=$lr valid AA=$score" >> "$lr_log"
        if awk -v a="$score" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$score best_lr=$lr; fi
      done
    fi
    chosen[$name]=$best_lr
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
