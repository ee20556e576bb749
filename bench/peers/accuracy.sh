#!/usr/bin/env bash
# bench/peers/accuracy.sh OUT_DIR - accuracy of a retain method against the same method written with
# transformers + peft (bench/peers/accuracy.py) on the same stream, model, data, budget, learning rate
# and seeds, in one invocation: METHOD=seqlora (a sequential PEFT LoRA loop) or METHOD=osft (PEFT's OSF
# re-applied at each task boundary; retain with method.others = "frozen", as PEFT trains only the
# target matrices). Writes OUT_DIR/accuracy.md: AA and BWT per side (mean ± sd over the seeds, and
# each seed's), and the difference of the means against the seed-to-seed spread.
#
# Environment (defaults in brackets): RETAIN [build/retain], PEER_VENV [.cache/peer-venv], STREAM
# [streams/smollm2-instructions.toml: prepare its model and data first, README "Real models"],
# MODEL [the stream's [model] path], METHOD [seqlora], SEEDS [0 1 2], SETS [none]: more --set options for both sides
# (the peer reads the train.* and method.* ones from the resolved stream retain writes).
set -euo pipefail
out=${1:?usage: bench/peers/accuracy.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
retain=${RETAIN:-$root/build/retain}
venv=${PEER_VENV:-$root/.cache/peer-venv}
stream=$(realpath "${STREAM:-$root/streams/smollm2-instructions.toml}")
seeds=${SEEDS:-"0 1 2"}
method=${METHOD:-seqlora}
[ -x "$retain" ] || { echo "[peers] $retain is missing (make build)" >&2; exit 1; }
"$root/bench/peers/setup.sh" "$venv"
mkdir -p "$out"
out=$(realpath "$out")
sets=(--set "method.name=$method" --set eval.forward_transfer=false --set eval.general_text= --set eval.probe=)
[ "$method" = osft ] && sets+=(--set method.others=frozen)
for s in ${SETS:-}; do sets+=(--set "$s"); done
for seed in $seeds; do
  echo "[peers] seed $seed: retain"
  "$retain" run "$stream" --force --set "run.out=$out/retain" --set "run.name=seed$seed" --set "run.seed=$seed" \
    --set model.save=none "${sets[@]}" > "$out/retain-seed$seed.log" 2>&1
  # The peer reads the stream as retain resolved it (every --set applied, paths absolute).
  config="$out/retain/seed$seed/config.toml"
  model=${MODEL:-$(sed -n 's/^path = "\(.*\)"$/\1/p' "$config" | head -1)}
  echo "[peers] seed $seed: peer"
  "$venv/bin/python" "$root/bench/peers/accuracy.py" "$config" "$model" "$out/peer-seed$seed.json" \
    --method "$method" --seed "$seed" \
    > "$out/peer-seed$seed.log" 2>&1
done
"$venv/bin/python" - "$out" "$method" $seeds <<'PY'
import json, statistics, sys
out, method, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
def metrics(R):
    T = len(R)
    aa = statistics.mean(R[T - 1])
    bwt = statistics.mean([R[T - 1][i] - R[i][i] for i in range(T - 1)]) if T > 1 else 0.0
    return aa, bwt
def mean_sd(xs):
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"
sides = {f"retain {method}": [json.load(open(f"{out}/retain/seed{s}/matrix.json"))["R"] for s in seeds],
         f"peer {method} (transformers + peft)": [json.load(open(f"{out}/peer-seed{s}.json"))["R"] for s in seeds]}
lines = ["| side | AA | BWT | AA per seed | last row, seed " + seeds[0] + " |", "|---|---:|---:|---|---|"]
aas = {}
for side, matrices in sides.items():
    m = [metrics(R) for R in matrices]
    aas[side] = [a for a, _ in m]
    lines.append(f"| {side} | {mean_sd([a for a, _ in m])} | {mean_sd([b for _, b in m])} | "
                 + " / ".join(f"{a:.2f}" for a, _ in m) + " | " + " / ".join(f"{x:.1f}" for x in matrices[0][-1]) + " |")
a, b = aas.values()
if len(seeds) > 1:
    spread = max(statistics.stdev(a), statistics.stdev(b))
    lines.append("")
    lines.append(f"Difference of the mean AA: {statistics.mean(a) - statistics.mean(b):+.2f}; seed-to-seed sd: "
                 f"{statistics.stdev(a):.2f} (retain), {statistics.stdev(b):.2f} (peer); "
                 f"{'within' if abs(statistics.mean(a) - statistics.mean(b)) <= 2 * spread else 'OUTSIDE'} twice the larger sd.")
open(f"{out}/accuracy.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
