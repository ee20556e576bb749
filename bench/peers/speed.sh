#!/usr/bin/env bash
# bench/peers/speed.sh OUT_DIR - speed and memory of retain against transformers + peft on the same
# machine, in one invocation: full fine-tuning, LoRA r16, OSFT against peft's `osf`, and MIGU against
# forward hooks, on SmolLM2-135M-Instruct (fetched as GGUF by scripts/fetch-models.sh, converted once
# to a float32 Hugging Face folder that both sides load). Writes OUT_DIR/speed.md. PIP_ROW=1 adds, for
# each workload, a row of retain built against the peer's own torch (its CPU libraries, into
# build-pip-torch), so one row compares like with like: the same ATen kernels and BLAS on both sides.
#
# Environment (defaults in brackets): RETAIN [build/retain], PIP_ROW [0], PEER_VENV [.cache/peer-venv], MODELS
# [models-cache], BATCH [4], LENGTH [128], STEPS timed [3], WARMUP [1], WORKLOADS [full,lora,osf,migu],
# OMP_NUM_THREADS [all cores].
set -euo pipefail
out=${1:?usage: bench/peers/speed.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
retain=${RETAIN:-$root/build/retain}
venv=${PEER_VENV:-$root/.cache/peer-venv}
models=${MODELS:-$root/models-cache}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
[ -x "$retain" ] || { echo "[peers] $retain is missing (make build)" >&2; exit 1; }
"$root/bench/peers/setup.sh" "$venv"
"$root/scripts/fetch-models.sh" "$models" smollm2
model="$models/smollm2-f32"
[ -f "$model/config.json" ] || "$retain" convert "$models/SmolLM2-135M-Instruct.Q4_1.gguf" "$model"
pip_row=()
if [[ ${PIP_ROW:-0} == 1 ]]; then
  torch_dir=$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  make -C "$root" build BUILD=build-pip-torch \
    CMAKE_ARGS="-DRETAIN_TORCH_CPU_FROM=$torch_dir -DRETAIN_BUILD_TESTS=OFF" >&2
  pip_row=(--retain-pip "$root/build-pip-torch/retain")
fi
mkdir -p "$out"
"$venv/bin/python" "$root/bench/peers/speed.py" --retain "$retain" "${pip_row[@]}" --model "$model" --out "$out/speed.md" \
  --batch "${BATCH:-4}" --length "${LENGTH:-128}" --steps "${STEPS:-3}" --warmup "${WARMUP:-1}" \
  --workloads "${WORKLOADS:-full,lora,osf,migu}"
