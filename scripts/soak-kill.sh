#!/usr/bin/env bash
# kill -9 soak: a multi-task run is started KILLS times (20 by default), each time killed with -9 at
# a random moment (uniform over the uninterrupted run's wall time, so the kills fall across the whole
# stream: start-up, steps, evaluations and checkpoint writes alike) and resumed with
# `retain run --resume`; every resumed run must end bit for bit as the uninterrupted one (model
# weights and the accuracy matrix R). Prints one line per kill (where the run was, whether a
# checkpoint write was under way, the verdict) and a summary; exits non-zero when one differs.
#   scripts/soak-kill.sh [DIR]     DIR: scratch folder (default: build/soak-kill)
# Environment: RETAIN (the binary, default build/retain), KILLS, METHOD (default osft), SEED (of the
# kill times, default 1). The stream is a little ViT on synthetic 8x8 images, 3 tasks of 2 classes
# (16 epochs of 160 images each, long enough that the kills fall across steps, evaluations and task
# boundaries), with a checkpoint every 4 steps so that a good share of the kills land in checkpoint
# writes.
set -euo pipefail
cd "$(dirname "$0")/.."
retain=${RETAIN:-build/retain}
kills=${KILLS:-20}
method=${METHOD:-osft}
dir=$(realpath -m "${1:-build/soak-kill}")
RANDOM=${SEED:-1}
[ -x "$retain" ] || { echo "[soak] $retain: not built (make build)" >&2; exit 2; }
rm -rf "$dir"
mkdir -p "$dir/vit"

# IDX files: image i has class i % 6, a bright 4x4 block at one of six places of an 8x8 image, noise.
write_idx() {  # write_idx IMAGES LABELS COUNT NOISE_SEED
  LC_ALL=C awk -v n="$3" -v seed="$4" -v images="$1" -v labels="$2" 'BEGIN {
    srand(seed)
    printf "%c%c%c%c", 0, 0, 8, 3 > images; printf "%c%c%c%c", 0, 0, 0, 0 > images
    printf "%c%c%c%c", 0, 0, 0, 0 > images; printf "%c%c%c%c", 0, 0, 0, 0 > images
    printf "%c%c%c%c", 0, 0, 8, 1 > labels; printf "%c%c%c%c", 0, 0, 0, 0 > labels
    for (i = 0; i < n; i++) {
      label = i % 6; top = int(label / 3) * 4; left = (label % 3) * 2
      for (r = 0; r < 8; r++) for (c = 0; c < 8; c++) {
        lit = r >= top && r < top + 4 && c >= left && c < left + 4
        printf "%c", (lit ? 150 : 0) + int(rand() * 100) > images
      }
      printf "%c", label > labels
    }
  }'
  # the counts (big-endian uint32 at byte 4) and the image size (rows, cols at bytes 8, 12)
  local count
  count=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($3 >> 24 & 255)) $(($3 >> 16 & 255)) $(($3 >> 8 & 255)) $(($3 & 255)))
  printf "$count" | dd of="$1" bs=1 seek=4 conv=notrunc status=none
  printf '\x00\x00\x00\x08\x00\x00\x00\x08' | dd of="$1" bs=1 seek=8 conv=notrunc status=none
  printf "$count" | dd of="$2" bs=1 seek=4 conv=notrunc status=none
}
write_idx "$dir/train-images" "$dir/train-labels" 480 1
write_idx "$dir/test-images" "$dir/test-labels" 120 2
cat >"$dir/vit/config.json" <<'JSON'
{"model_type": "vit", "image_size": 8, "patch_size": 2, "num_channels": 1, "hidden_size": 32,
 "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "hidden_act": "gelu",
 "layer_norm_eps": 1e-12, "qkv_bias": true, "initializer_range": 0.02, "num_labels": 6}
JSON
{
  printf '[run]\nseed = 5\ndevice = "cpu"\nout = "%s/runs"\n[model]\ninit = "vit/config.json"\n' "$dir"
  printf '[method]\nname = "%s"\n' "$method"
  printf '[train]\nepochs = 16\nbatch_size = 8\nlr = 3e-3\nschedule = "cosine"\nwarmup_ratio = 0.1\n'
  printf 'checkpoint_every = 4\nlog_every = 10\n'
  for t in 0 1 2; do
    printf '[[task]]\nname = "t%d"\nkind = "image-classification"\ntrain = "train-images"\n' "$t"
    printf 'train_labels = "train-labels"\ntest = "test-images"\ntest_labels = "test-labels"\n'
    printf 'classes = [%d, %d]\n' $((2 * t)) $((2 * t + 1))
  done
} >"$dir/stream.toml"

start=$(date +%s.%N)
"$retain" run "$dir/stream.toml" --set run.name=reference >"$dir/reference.log" 2>&1
duration=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "[soak] uninterrupted run ($method): ${duration}s"

# Kill i starts the run afresh, kills it at a moment drawn uniformly from the uninterrupted run's
# wall time, resumes it to the end and compares the result with the uninterrupted run.
matrix() { sed -n '/^  "R": \[/,/^  \],/p' "$1/matrix.json"; }
reference=$dir/runs/reference
[ -n "$(matrix "$reference")" ] || { echo "[soak] no R in $reference/matrix.json" >&2; exit 1; }
identical=0 in_write=0 failed=0
for ((i = 1; i <= kills; i++)); do
  run_dir=$dir/runs/killed-$i
  log=$dir/killed-$i.log
  at=$(awk -v r=$RANDOM -v d="$duration" 'BEGIN { printf "%.2f", r / 32768 * d }')
  "$retain" run "$dir/stream.toml" --set run.name=killed-$i >"$log" 2>&1 &
  pid=$!
  sleep "$at"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  where=$(tr '\r' '\n' <"$log" | grep -o '\[task [0-9]*/[0-9]* [^]]*\] step [0-9]*/[0-9]*' | tail -1 || true)
  writing=""
  if [ -d "$run_dir/checkpoint.tmp" ]; then writing=", during a checkpoint write" in_write=$((in_write + 1)); fi
  # Killed before its first checkpoint, a run cannot be resumed: `retain run` says so and points to
  # --force, which starts it over (as a user would).
  resume=(--resume "$run_dir")
  if [ ! -d "$run_dir/checkpoint" ] && [ ! -d "$run_dir/checkpoint.old" ]; then
    resume=("$dir/stream.toml" --set run.name=killed-$i --force)
    writing="$writing, before the first checkpoint (started over with --force)"
  fi
  if ! "$retain" run "${resume[@]}" >>"$log" 2>&1; then
    echo "[soak] kill $i at ${at}s ('${where:-before the first step}'$writing): the resume failed: $(tail -1 "$log")"
    failed=$((failed + 1))
    continue
  fi
  verdict="bit-identical"
  cmp -s "$reference/model/model.safetensors" "$run_dir/model/model.safetensors" || verdict="WEIGHTS DIFFER"
  [ "$(matrix "$reference")" == "$(matrix "$run_dir")" ] || verdict="$verdict, R DIFFERS"
  [ "$verdict" == "bit-identical" ] && identical=$((identical + 1)) || failed=$((failed + 1))
  echo "[soak] kill $i at ${at}s ('${where:-before the first step}'$writing), resumed: $verdict"
  [ "$verdict" == "bit-identical" ] && rm -rf "$run_dir"
done
echo "[soak] $method: $identical/$kills killed runs resumed bit-identical to the uninterrupted one" \
  "($in_write kills during a checkpoint write)"
[ "$failed" -eq 0 ]
