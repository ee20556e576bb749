#!/usr/bin/env bash
# scripts/bench-zero.sh OUT_DIR - what ZeRO-1 saves: one data-parallel run (retain launch --nproc
# NPROC) with train.zero = 0 and then 1, on Split Fashion-MNIST with a model large enough for the
# AdamW moments to matter (a ViT with HIDDEN width and LAYERS layers, trained from scratch for STEPS
# steps per task). Prints each rank's peak resident memory (GNU time's %M) and wall time, the run's
# own table (rank 0's peak memory: resident on the CPU, allocated on a GPU), and checks that the
# two runs end with the same weights, to the bit.
#
# Environment (defaults in brackets): RETAIN [build/retain], NPROC [2], HIDDEN [768], LAYERS [12],
# STEPS [3], THREADS per process [1], SETS [none]: more --set options (on GPUs: "run.device=cuda").
set -euo pipefail
out=${1:?usage: scripts/bench-zero.sh OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
retain=${RETAIN:-$root/build/retain}
nproc=${NPROC:-2}
hidden=${HIDDEN:-768}
layers=${LAYERS:-12}
steps=${STEPS:-3}
export OMP_NUM_THREADS=${THREADS:-1}
command -v /usr/bin/time > /dev/null || { echo "bench-zero: needs GNU time (apt install time)" >&2; exit 1; }

mkdir -p "$out"
# The tiny ViT's config with the width, depth and heads (64 wide each) of the benchmark model.
sed -e "s/\"hidden_size\": *[0-9]*/\"hidden_size\": $hidden/" \
    -e "s/\"num_hidden_layers\": *[0-9]*/\"num_hidden_layers\": $layers/" \
    -e "s/\"num_attention_heads\": *[0-9]*/\"num_attention_heads\": $((hidden / 64))/" \
    -e "s/\"intermediate_size\": *[0-9]*/\"intermediate_size\": $((hidden * 4))/" \
    "$root/models/vit-tiny-28/config.json" > "$out/vit.json"

stream=$root/streams/split-fashion-mnist.toml
sets=(--set "model.init=$out/vit.json" --set train.epochs=0 --set "train.max_steps=$steps" --set train.batch_size=16)
for i in $(seq 1 "$(grep -c '^\[\[task\]\]' "$stream")"); do sets+=(--set "task.$i.max_train=64" --set "task.$i.max_test=100"); done
for s in ${SETS:-}; do sets+=(--set "$s"); done

for zero in 0 1; do
  name=zero$zero
  echo "[bench-zero] train.zero=$zero on $nproc processes ..."
  # Each rank runs under GNU time, which writes its peak resident memory to rss.RANK.
  "$retain" launch --nproc "$nproc" -- sh -c '/usr/bin/time -f "%M %e" -o "$0.$RANK" "$@"' "$out/$name.rss" \
    "$retain" run "$stream" --force --set "run.out=$out" --set "run.name=$name" --set "train.zero=$zero" "${sets[@]}" \
    > "$out/$name.log" 2>&1 || { echo "[bench-zero] the run failed; see $out/$name.log" >&2; exit 1; }
done

echo
echo "| train.zero | rank | peak resident memory (MB) | wall s |"
echo "|---|---|---:|---:|"
for zero in 0 1; do
  for ((rank = 0; rank < nproc; ++rank)); do
    read -r kb seconds < "$out/zero$zero.rss.$rank"
    awk -v z="$zero" -v r="$rank" -v kb="$kb" -v s="$seconds" 'BEGIN { printf "| %s | %s | %.0f | %s |\n", z, r, kb / 1000, s }'
  done
done
grep -h '"event":"zero"' "$out/zero1/log.jsonl" | head -1
echo
"$retain" compare "$out/zero0" "$out/zero1"
if cmp -s "$out/zero0/model/model.safetensors" "$out/zero1/model/model.safetensors"; then
  echo "[bench-zero] the two runs end with the same weights, to the bit"
else
  echo "[bench-zero] the two runs end with different weights" >&2
  exit 1
fi
